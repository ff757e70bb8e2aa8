"""Identity resolution against the simulator's ground truth (truth/identity.parquet, people.parquet).

A warehouse person stands for the true person who owns most of its identifiers; an identifier is
"mapped to its true person" when the person it is mapped to stands for (one of) its true owner(s)
(a shared device has one truth row per person using it). People who never log in on one of their
devices cannot be linked to it from the data, so that split is measured separately and only for
registered people, who can.
"""

from __future__ import annotations

import pandas as pd
import pytest


@pytest.fixture(scope="module")
def mapped(built) -> pd.DataFrame:
    """Truth identity rows joined to the warehouse's map, with the true person each warehouse person stands for."""
    mine = built.client.query_df(
        f"select id_type, id_value, person_id as wh_person, is_shared as wh_shared, resolved_by "
        f"from {built.db('intermediate')}.int_identity__ids"
    )
    truth = pd.read_parquet(built.world_dir / "truth" / "identity.parquet")
    truth["id_value"] = truth["id_value"].astype(str)
    rows = truth.merge(mine, on=["id_type", "id_value"], how="left")
    seen = rows[rows["wh_person"].notna()]
    # Own (unshared) identifiers decide whom a warehouse person stands for; a person made only
    # of a shared device's identifiers stands for one of the device's people.
    votes = (
        seen.assign(weight=(~seen["is_shared"]).astype(int) * 1000 + 1)
        .groupby(["wh_person", "person_id"])["weight"]
        .sum()
        .rename("n")
        .reset_index()
    )
    stands_for = (
        votes.sort_values(["n", "person_id"], ascending=[False, True])
        .drop_duplicates("wh_person")
        .set_index("wh_person")["person_id"]
    )
    rows["stands_for"] = rows["wh_person"].map(stands_for)
    return rows


def test_identifiers_of_every_source_are_mapped(mapped):
    missing = mapped[mapped["wh_person"].isna()]
    # Identifiers the truth lists but no source row carries (e.g. an install received after now).
    assert len(missing) / len(mapped) < 0.005, missing.groupby("id_type").size()


def test_share_of_ids_mapped_to_their_true_person_is_at_least_99_percent(mapped):
    per_id = mapped.groupby(["id_type", "id_value"]).apply(
        lambda d: bool((d["stands_for"] == d["person_id"]).any()), include_groups=False
    )
    share = per_id.mean()
    print(f"identity: {share:.4f} of {len(per_id)} identifiers mapped to their true person")
    assert share >= 0.99


def test_registered_people_keep_their_linkable_identifiers_together(mapped, built):
    """A registered person's ids sit in one warehouse person, except devices never logged in on."""
    people = pd.read_parquet(built.world_dir / "truth" / "people.parquet")
    registered = set(people.loc[people["user_id"].notna(), "person_id"])
    rows = mapped[mapped["person_id"].isin(registered) & ~mapped["is_shared"] & mapped["wh_person"].notna()]
    main = (
        rows.groupby(["person_id", "wh_person"])
        .size()
        .rename("n")
        .reset_index()
        .sort_values(["n", "wh_person"], ascending=[False, True])
        .drop_duplicates("person_id")
        .set_index("person_id")["wh_person"]
    )
    together = (rows["wh_person"] == rows["person_id"].map(main)).mean()
    print(f"identity: {together:.4f} of registered people's identifiers in their main person")
    assert together >= 0.97


def test_user_ids_anchor_their_person(built):
    wrong = built.client.query_df(
        f"select id_value, person_id from {built.db('intermediate')}.int_identity__ids "
        f"where id_type = 'user_id' and resolved_by = 'user_id' and person_id != concat('u', id_value)"
    )
    assert wrong.empty


def test_shared_devices_belong_to_one_of_their_people(mapped):
    shared = mapped[mapped["is_shared"] & mapped["wh_person"].notna()]
    per_id = shared.groupby(["id_type", "id_value"]).apply(
        lambda d: bool((d["stands_for"] == d["person_id"]).any()), include_groups=False
    )
    assert len(per_id) > 0
    print(f"identity: {per_id.mean():.4f} of {len(per_id)} shared identifiers mapped to one of their people")
    assert per_id.mean() >= 0.9


def test_persons_match_truth_registrations(built):
    persons = built.client.query_df(
        f"select user_id, registered_at, acquisition_channel, first_platform "
        f"from {built.db('intermediate')}.int_persons where is_registered"
    )
    people = pd.read_parquet(built.world_dir / "truth" / "people.parquet")
    registered = people[people["user_id"].notna()].copy()
    registered["user_id"] = registered["user_id"].astype("int64").astype(str)
    assert sorted(persons["user_id"]) == sorted(registered["user_id"])
    both = registered.merge(persons, on="user_id", suffixes=("_truth", ""))
    registered_at = pd.to_datetime(both["registered_at"], utc=True)
    assert ((both["registered_at_truth"] - registered_at).abs() < pd.Timedelta("1ms")).all()
    # Web arrivals carry their channel in the landing URL and referrer; an organic app install
    # carries none, so only the web side can be held to the truth.
    web = both[both["acquisition_platform"] == "web"]
    agreement = (web["channel"] == web["acquisition_channel"]).mean()
    print(f"identity: acquisition channel of web-acquired registered people agrees for {agreement:.4f}")
    assert agreement >= 0.97
    assert (both["acquisition_platform"] == both["first_platform"]).mean() >= 0.97
