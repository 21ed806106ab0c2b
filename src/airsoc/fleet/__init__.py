"""The demo fleet: a fraud detector, a sentiment model, a RAG support bot and a credit scorer,
their data generators and policy documents, and what registers them (:mod:`airsoc.fleet.setup`).

Example:
    >>> from airsoc.fleet.systems import fraud_transactions
    >>> len(fraud_transactions(50, seed=0))
    50
"""
