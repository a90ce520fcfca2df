"""Read a polygon layer (grids, community boundaries) from whichever file a contractor delivered.

Shapefiles are what surveying bureaus have always sent; GeoPackage and GeoJSON are what they
increasingly send. All three give the same ``ImportResult`` in EPSG:4490 and go through the same
checks afterwards; any other file is refused by name, with the list of what is accepted.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from common.errors import InputError
from gis.geojson_io import read_grids_geojson
from gis.geopackage import read_grids_gpkg
from gis.shapefile_io import FieldMapping, ImportResult, read_grids

SHAPEFILE_SUFFIXES = (".shp", ".dbf", ".shx")
SINGLE_FILE_SUFFIXES = (".gpkg", ".geojson", ".json")  # one file holds the whole layer
ACCEPTED = ("Shapefile (.shp + .shx + .dbf + .prj, or a .zip of them)", "GeoPackage (.gpkg)",
            "GeoJSON (.geojson, .json)")
ACCEPTED_ZH = "Shapefile（.shp及其.shx/.dbf/.prj，或其.zip压缩包）、GeoPackage（.gpkg）、GeoJSON（.geojson/.json）"


def unsupported_format(name: str) -> InputError:
    return InputError("unsupported_format", f"不支持的文件格式：{name}。支持：{ACCEPTED_ZH}。",
                      f"unsupported file format: {name}; accepted are {', '.join(ACCEPTED)}")


def read_polygons(path: str | Path, *, mapping: FieldMapping | None = None, crs: int | None = None,
                  encoding: str | None = None, layer: str | None = None,
                  progress: Callable[[int, int], None] | None = None) -> ImportResult:
    """The layer in ``path``, told by its suffix (``encoding``: shapefiles only; ``layer``: GeoPackage)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in SHAPEFILE_SUFFIXES:
        return read_grids(path, mapping=mapping, crs=crs, encoding=encoding, progress=progress)
    if suffix == ".gpkg":
        return read_grids_gpkg(path, mapping=mapping, crs=crs, layer=layer)
    if suffix in (".geojson", ".json"):
        return read_grids_geojson(path, mapping=mapping, crs=crs)
    raise unsupported_format(path.name)
