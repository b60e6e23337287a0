"""Flask edges: hosted payment pages, the merchant cabinet and the Assist POST formats."""
