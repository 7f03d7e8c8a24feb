"""imgleak."""
