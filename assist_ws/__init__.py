"""assist-ws: a self-hosted payment gateway speaking the merchant protocol of Assist (АПК Ассист)."""

__version__ = "0.1.0"
