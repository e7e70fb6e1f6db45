"""The interactive API documentation (Swagger UI, ReDoc), served from assets in this package."""
