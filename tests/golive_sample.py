"""The sample district folder (tests/data/golive) that `gridops setup` takes live in the tests.

District 440113 (a made-up 番禺区 list): 2 streets, 4 communities, 8 grids, 6 people, 3 devices,
3 rentals, 4 tenants, in the files and formats a district office brings: the division list as a
GBK CSV, boundaries and grids as GeoPackages in a CGCS2000 Gauss-Krüger zone, the rest as xlsx.
Run `python -m tests.golive_sample` to write the folder again after changing it.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from openpyxl import Workbook
from shapely.geometry import box

from gis.crs import CGCS2000, transform
from gis.geopackage import write_grids_gpkg
from gis.shapefile_io import GridFeature
from tests.factories import X0, Y0, ZONE38

FOLDER = Path(__file__).resolve().parent / "data" / "golive"
DISTRICT = "440113"
STREETS = {"440113001000": "市桥街道", "440113002000": "沙头街道"}
COMMUNITIES = {"440113001001": ("东城社区居委会", "111"), "440113001002": ("西城社区居委会", "111"),
               "440113002001": ("沙头社区居委会", "112"), "440113002002": ("横江村委会", "220")}
WORKER = {"username": "dc_wangfang", "name": "王芳", "grid": "440113001001001"}  # the one the test logs in as


def cell(k: int, half: int | None = None):  # type: ignore[no-untyped-def]
    """Community k's 200 m square (or its west/east half) east of the lattice origin, in EPSG:4490."""
    x = X0 + 200.0 * k + (100.0 * half if half is not None else 0.0)
    return transform(box(x, Y0, x + (100.0 if half is not None else 200.0), Y0 + 200.0), ZONE38, CGCS2000)


def centre(grid_code: str) -> tuple[float, float]:
    k, half = list(COMMUNITIES).index(grid_code[:12]), int(grid_code[12:]) - 1
    p = cell(k, half).centroid
    return round(p.x, 7), round(p.y, 7)


def _xlsx(path: Path, header: list[str], rows: list[list[object]]) -> None:
    wb = Workbook()
    ws = wb.active
    ws.append(header)
    for r in rows:
        ws.append(r)
    for column in ws.columns:  # codes, IDs and phones typed as text, as an office should
        for c in column:
            if isinstance(c.value, str) and c.value.isdigit():
                c.number_format = "@"
    wb.save(path)


def write_sample(folder: Path = FOLDER) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(["统计用区划代码", "城乡分类代码", "名称"])
    w.writerow([f"{DISTRICT}000000", "", "番禺区"])
    for street, name in STREETS.items():
        w.writerow([street, "", name])
        for code, (cname, kind) in COMMUNITIES.items():
            if code[:9] == street[:9]:
                w.writerow([code, kind, cname])
    (folder / "区划代码.csv").write_bytes(buf.getvalue().encode("gbk"))  # as Excel saves it on a Chinese Windows

    write_grids_gpkg(folder / "社区边界.gpkg", [GridFeature(code, name, None, None, cell(k), {})
                                             for k, (code, (name, _)) in enumerate(COMMUNITIES.items())],
                     epsg=ZONE38, layer="communities")
    write_grids_gpkg(folder / "网格.gpkg", [
        GridFeature(f"{code}{n:03d}", f"{name[:2]}第{n}网格", code, "综合网格", cell(k, n - 1), {})
        for k, (code, (name, _)) in enumerate(COMMUNITIES.items()) for n in (1, 2)], epsg=ZONE38)

    _xlsx(folder / "花名册.xlsx", ["姓名", "手机号", "角色", "街道", "社区", "网格", "专职/兼职", "上岗日期", "用户名"], [
        ["赵敏", "13911110001", "指挥中心", "", "", "", "专职", "2026-11-02", "py_zhaomin"],
        ["钱伟", "13911110002", "街道管理员", "市桥街道", "", "", "专职", "2026-11-02", "sq_qianwei"],
        ["孙丽", "13911110003", "街道管理员", "沙头街道", "", "", "专职", "2026-11-02", "st_sunli"],
        [WORKER["name"], "13911110004", "网格员", "市桥街道", "东城社区居委会", WORKER["grid"], "专职", "2026-11-02",
         WORKER["username"]],
        ["李强", "13911110005", "网格员", "市桥街道", "西城社区居委会", "440113001002001、440113001002002", "兼职",
         "2026-11-02", "xc_liqiang"],
        ["周杰", "13911110006", "网格员", "沙头街道", "横江村委会", "440113002002001", "专职", "2026-11-02", "hj_zhoujie"],
    ])
    cam, door = centre("440113001001001"), centre("440113002001002")
    _xlsx(folder / "点位台账.xlsx", ["设备编码", "设备名称", "设备类型", "经度", "纬度", "坐标系", "安装日期", "权属单位"], [
        ["44011300001310000001", "东城大道口", "视频监控点位", cam[0], cam[1], "cgcs2000", "2025-06-01", "番禺分局"],
        ["MJ-ST-0001", "沙头社区8号门禁", "门禁", door[0], door[1], "cgcs2000", "2025-07-15", "沙头街道"],
        ["ZFW-PY-01", "市桥街道政法网链路", "政法网链路", "", "", "", "2024-01-01", "区政法委"],
    ])
    _xlsx(folder / "出租屋台账.xlsx", ["地址", "楼栋", "房间数", "房东姓名", "房东电话", "经度", "纬度", "网格编码", "是否纳管",
                                   "纳管日期"], [
        ["番禺区东城大道1号", "A栋", 12, "陈志明", "13822220001", "", "", "440113001001002", "是", "2026-03-01"],
        ["番禺区西城路28号", "", 6, "林秀英", "13822220002", cam[0], cam[1], "", "否", ""],
        ["番禺区沙头街8号", "", 20, "黄德华", "13822220003", door[0], door[1], "", "是", "2026-05-10"],
    ])
    _xlsx(folder / "来穗人员.xlsx", ["姓名", "证件类型", "证件号码", "联系电话", "居住地址", "门禁卡号", "入住日期"], [
        ["刘洋", "居民身份证", "431102199203150018", "13733330001", "番禺区东城大道1号", "", "2026-04-01"],
        ["吴静", "居民身份证", "450103199508230042", "13733330002", "番禺区东城大道1号", "", "2026-06-12"],
        ["郑浩", "居民身份证", "360102198811110032", "13733330003", "番禺区沙头街8号", "C-0001", "2026-08-20"],
        ["冯雪", "居民身份证", "440113199901010020", "13733330004", "番禺区西城路28号", "", "2026-09-01"],
    ])


if __name__ == "__main__":
    write_sample()
    print(f"sample district written to {FOLDER}")
