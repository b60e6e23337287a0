"""The adapter to merchants' servers for result notifications: Assist's wire form (POST and
SOAP ``PushPaymentResult``) and a careful HTTP client.  Imports the domain only."""

from .http import HttpNotificationSender

__all__ = ["HttpNotificationSender"]
