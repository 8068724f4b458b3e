"""A data owner's job folders on the local disk: listing them and writing approvals."""
