"""The demo fleet and the scripted scenario ``airsoc up --demo`` runs."""
