"""A local web view of hpotrack studies, `hpotrack dashboard`."""
