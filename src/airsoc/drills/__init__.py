"""Drills: scenarios, fault injectors and traffic on the demo fleet, and the live demo
(``airsoc up --demo``, :func:`airsoc.drills.live.run_live_demo`).

Example:
    >>> from airsoc.drills.live import DemoOptions
    >>> DemoOptions().fault_after
    60.0
"""
