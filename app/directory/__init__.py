"""The directory: associates, resources, contacts and persons."""
