"""The IVR engine: parses IVR documents into branches and runs them on a Channel.

It never imports aioari: telephony adapters implement `Channel`, tests use a fake one.
"""
