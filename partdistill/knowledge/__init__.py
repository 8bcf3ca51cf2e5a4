"""Knowledge units: 2D predictions lifted to 3D points, their storage, and PartDistill's h5 format."""
