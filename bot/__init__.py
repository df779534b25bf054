"""reelbot: prompt → video on Luma Dream Machine and its gateways, delivered into Discord."""
