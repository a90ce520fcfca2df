from __future__ import annotations

import pyproj
import pytest
from pyproj.enums import WktVersion

from common.errors import InputError
from gis.prj import epsg_from_prj, prj_for_epsg

GCS_CGCS2000 = (
    'GEOGCS["GCS_China_Geodetic_Coordinate_System_2000",DATUM["D_China_2000",'
    'SPHEROID["CGCS2000",6378137.0,298.257222101]],PRIMEM["Greenwich",0.0],'
    'UNIT["Degree",0.0174532925199433]]'
)
# As written by ArcGIS 10.x / Pro for the two CGCS2000 3-degree GK flavours.
ARCGIS_CM_114E = (
    f'PROJCS["CGCS2000_3_Degree_GK_CM_114E",{GCS_CGCS2000},PROJECTION["Gauss_Kruger"],'
    'PARAMETER["False_Easting",500000.0],PARAMETER["False_Northing",0.0],'
    'PARAMETER["Central_Meridian",114.0],PARAMETER["Scale_Factor",1.0],'
    'PARAMETER["Latitude_Of_Origin",0.0],UNIT["Meter",1.0]]'
)
ARCGIS_ZONE_38 = (
    f'PROJCS["CGCS2000_3_Degree_GK_Zone_38",{GCS_CGCS2000},PROJECTION["Gauss_Kruger"],'
    'PARAMETER["False_Easting",38500000.0],PARAMETER["False_Northing",0.0],'
    'PARAMETER["Central_Meridian",114.0],PARAMETER["Scale_Factor",1.0],'
    'PARAMETER["Latitude_Of_Origin",0.0],UNIT["Meter",1.0]]'
)
# Home-made names (seen in SuperMap / surveying exports) that PROJ cannot match to EPSG.
CUSTOM_GCS = (
    'GEOGCS["GCS_CGCS2000",DATUM["D_CGCS2000",SPHEROID["CGCS2000",6378137.0,298.257222101]],'
    'PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]]'
)


def _custom_tm(false_easting: float, cm: float, gcs: str = CUSTOM_GCS, scale: float = 1.0) -> str:
    return (
        f'PROJCS["Guangzhou_Survey",{gcs},PROJECTION["Transverse_Mercator"],'
        f'PARAMETER["False_Easting",{false_easting}],PARAMETER["False_Northing",0.0],'
        f'PARAMETER["Central_Meridian",{cm}],PARAMETER["Scale_Factor",{scale}],'
        'PARAMETER["Latitude_Of_Origin",0.0],UNIT["Meter",1.0]]'
    )


def _esri(epsg: int) -> str:
    return pyproj.CRS.from_epsg(epsg).to_wkt(WktVersion.WKT1_ESRI)


@pytest.mark.parametrize("epsg", [4490, 4326, *range(4513, 4555)])
def test_round_trip(epsg: int) -> None:
    wkt = prj_for_epsg(epsg)
    assert wkt.startswith(("PROJCS[", "GEOGCS["))  # ESRI WKT1, not WKT2
    assert epsg_from_prj(wkt) == epsg


@pytest.mark.parametrize(
    ("wkt", "epsg"),
    [
        (ARCGIS_CM_114E, 4547),
        (ARCGIS_ZONE_38, 4526),
        (GCS_CGCS2000, 4490),
        ("\ufeff" + ARCGIS_CM_114E + "\r\n", 4547),  # BOM and CRLF from Windows editors
        (CUSTOM_GCS, 4490),
        (_custom_tm(500000.0, 114.0), 4547),
        (_custom_tm(38500000.0, 114.0), 4526),
        (_custom_tm(500000.0, 75.0), 4534),
        (_custom_tm(45500000.0, 135.0), 4533),
        # The 6-degree CM 111E zone has exactly the 3-degree CM 111E parameters.
        (pyproj.CRS.from_epsg(4508).to_wkt(), 4546),
        (pyproj.CRS.from_epsg(4326).to_wkt(), 4326),
        (pyproj.CRS.from_epsg(4526).to_wkt(), 4526),  # OGC WKT2 from QGIS also reads
    ],
)
def test_recognised(wkt: str, epsg: int) -> None:
    assert epsg_from_prj(wkt) == epsg


@pytest.mark.parametrize(
    ("wkt", "named"),
    [
        (_esri(3857), "Pseudo-Mercator"),
        (_esri(2383), "Xian 1980"),
        (_esri(2436), "Beijing 1954"),
        (_esri(4214), "Beijing 1954"),
        (_esri(4499), "Gauss-Kruger zone 21"),
        (_esri(32650), "UTM zone 50N"),
        # 6-degree zone 19 false easting with CM 111E: not a 3-degree zone
        (_custom_tm(19500000.0, 111.0), "false easting 19500000"),
        (_custom_tm(500000.0, 114.0, scale=0.9996), "Guangzhou_Survey"),
        (_custom_tm(500000.0, 114.5), "Guangzhou_Survey"),
        (_custom_tm(500000.0, 114.0, gcs=CUSTOM_GCS.replace("298.257222101", "298.3")), "Guangzhou_Survey"),
    ],
)
def test_unsupported_named(wkt: str, named: str) -> None:
    with pytest.raises(InputError) as exc:
        epsg_from_prj(wkt)
    assert exc.value.code == "unsupported_crs"
    assert named in exc.value.message_en and named in exc.value.message_zh


@pytest.mark.parametrize("text", ["", "garbage", "PROJCS[", 'GEOGCS["x"]', "EPSG:4490"])
def test_garbage_refused(text: str) -> None:
    with pytest.raises(InputError) as exc:
        epsg_from_prj(text)
    assert exc.value.code == "unsupported_crs"
    assert exc.value.message_zh and exc.value.message_en


def test_prj_for_unsupported_refused() -> None:
    with pytest.raises(InputError) as exc:
        prj_for_epsg(3857)
    assert exc.value.code == "unsupported_crs"
