"""What the libraries (gis, devices, metrics, mobile) share: small, and importing none of them.

The libraries never import each other's internals nor `server`; a thing two of them need, such as
the shape of a refused input, lives here so that neither has to depend on the other.
"""
