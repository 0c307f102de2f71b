"""Notification calls, SMS and Notify broadcasts: requests written whole, then sent by the
dispatcher at each tenant's rates, every recipient ending in a final state."""
