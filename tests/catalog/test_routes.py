"""The catalog over real HTTP: every role may browse it; pages and filters hold."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from endcap.client import EndcapAPIError, EndcapClient


def _products(folder: Path, tag: str, count: int) -> Path:
    rows = [
        f"{tag}-{i:03d},Item {i},Brand {i % 2},Maker {tag},Cat {tag} {i % 3},Dept {tag},,{i == 0}"
        for i in range(count)
    ]
    path = folder / "products.csv"
    path.write_text(
        "sku,name,brand,manufacturer,category,department,subcategory,private_label\n"
        + "\n".join(rows)
        + "\n",
        encoding="utf-8",
    )
    return path


def test_products_page_by_sku_and_filter_for_every_role(
    admin: EndcapClient, brand: EndcapClient, tmp_path: Path
) -> None:
    tag = uuid.uuid4().hex[:6]
    assert (
        admin.wait(admin.upload("products", _products(tmp_path, tag, 7)).id).status == "succeeded"
    )

    seen: list[str] = []
    cursor = None
    while True:
        page = brand.products(department=f"Dept {tag}", limit=3, cursor=cursor)
        seen.extend(p.sku for p in page.items)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == [f"{tag}-{i:03d}" for i in range(7)]

    only = admin.products(department=f"Dept {tag}", category=f"Cat {tag} 1", limit=50).items
    assert [p.sku for p in only] == [f"{tag}-001", f"{tag}-004"]
    assert only[0].manufacturer == f"Maker {tag}"
    first = admin.products(department=f"Dept {tag}", limit=1).items[0]
    assert first.private_label is True

    tree = [c for c in brand.categories() if c.department == f"Dept {tag}"]
    assert sorted((c.category, c.products) for c in tree) == [
        (f"Cat {tag} 0", 3),
        (f"Cat {tag} 1", 2),
        (f"Cat {tag} 2", 2),
    ]


def test_stores_page_by_store_id(admin: EndcapClient, brand: EndcapClient, tmp_path: Path) -> None:
    tag = uuid.uuid4().hex[:6]
    path = tmp_path / "stores.csv"
    path.write_text("store_id\n" + "".join(f"{tag}-{i:02d}\n" for i in range(5)), encoding="utf-8")
    assert admin.wait(admin.upload("stores", path).id).status == "succeeded"

    seen: list[str] = []
    cursor = None
    while True:
        page = brand.stores(limit=2, cursor=cursor)
        assert len(page.items) <= 2
        seen.extend(s.store_id for s in page.items)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    ours = [s for s in seen if s.startswith(tag)]
    assert ours == [f"{tag}-{i:02d}" for i in range(5)]
    assert len(seen) == len(set(seen))


@pytest.mark.parametrize("cursor", ["e30", "zzz", "not a cursor", "%%%"])
def test_a_cursor_this_api_did_not_make_is_422(brand: EndcapClient, cursor: str) -> None:
    for list_page in (brand.products, brand.stores):
        with pytest.raises(EndcapAPIError) as refused:
            list_page(limit=1, cursor=cursor)
        assert refused.value.status == 422
        assert "cursor" in refused.value.detail
