"""HTTP faces (aiohttp). Each face parses, calls a service and shapes the answer."""
