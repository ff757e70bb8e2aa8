"""What the player-log source reads and the columns it lands.

The files are Snowplow enriched media events (SOURCES.md section 5.1), one JSON object per line:
top-level enriched-event columns plus the decoded `unstruct_event` envelope (the media event and
its payload) and `contexts` envelope (entities: `media_player`, media `session`, our own content
entity). Only the fields below are parsed; every other key is skipped by the JSON reader, and the
whole line is kept verbatim in `raw_event`.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from ingestion.sink import low_cardinality, table_hints, volatile

SOURCE_NAME = "player_logs"
RESOURCE_NAME = "events"

FILE_SUFFIXES = (".jsonl.gz", ".ndjson.gz", ".json.gz", ".jsonl", ".ndjson", ".json")
"""Files read in a day folder; anything else (temporary uploads, markers) is ignored."""

DEFAULT_RESCAN_DAYS = 3
"""Day folders re-listed behind the newest one loaded: a file written late or still growing
there is picked up (or re-read) on the next run. Older folders count as final."""

DEFAULT_CHUNK_BYTES = 8 * 1024 * 1024
"""Decompressed bytes parsed at a time: bounds memory per worker whatever the file size."""

DEFAULT_BATCH_ROWS = 100_000
"""Events per item handed to dlt: dlt's per-item schema work is amortised over this many."""

MEDIA_PLAYER_SCHEMA = "iglu:com.snowplowanalytics.snowplow/media_player/"
MEDIA_SESSION_SCHEMA = "iglu:com.snowplowanalytics.snowplow.media/session/"
DEFAULT_CONTENT_SCHEMA = "iglu:ru.kinoexample/content/"
"""Our own content entity (the player's catalogue id); media v2 has no media id field."""

_S, _F, _I, _B = pa.string(), pa.float64(), pa.int64(), pa.bool_()
# Timestamps are parsed at microseconds: Snowplow sends milliseconds, but a tracker that sends
# more digits would otherwise fail the whole chunk.
_TS = pa.timestamp("us")

# Entity fields of every entity we flatten, in one struct: Arrow's JSON reader needs one type
# for the items of `contexts.data`, so the struct is the union of the fields we read (the names
# do not collide). Numbers the spec allows to be fractional are float64.
_ENTITY = pa.struct(
    [
        # media_player 1-0-0 / 2-0-0
        ("currentTime", _F),
        ("duration", _F),
        ("ended", _B),
        ("paused", _B),
        ("playbackRate", _F),
        ("quality", _S),
        ("volume", _F),
        ("muted", _B),
        ("fullscreen", _B),
        ("pictureInPicture", _B),
        ("livestream", _B),
        ("loop", _B),
        ("mediaType", _S),
        ("playerType", _S),
        ("label", _S),
        # media session 1-0-0
        ("mediaSessionId", _S),
        ("startedAt", _TS),
        ("pingInterval", _F),
        ("timePlayed", _F),
        ("timePlayedMuted", _F),
        ("timePaused", _F),
        ("contentWatched", _F),
        ("timeBuffering", _F),
        ("timeSpentAds", _F),
        ("ads", _I),
        ("adsClicked", _I),
        ("adsSkipped", _I),
        ("adBreaks", _I),
        ("avgPlaybackRate", _F),
        # content entity (ours)
        ("content_id", _I),
        ("content_type", _S),
        ("series_id", _I),
        ("season_number", _I),
        ("episode_number", _I),
    ]
)

_EVENT_DATA = pa.struct(
    [
        ("percentProgress", _I),
        ("previousRate", _F),
        ("newRate", _F),
        ("previousQuality", _S),
        ("newQuality", _S),
        ("bitrate", _I),
        ("framesPerSecond", _F),
        ("automatic", _B),
        ("previousVolume", _F),
        ("newVolume", _F),
        ("errorCode", _S),
        ("errorName", _S),
        ("errorDescription", _S),
        ("type", _S),  # legacy v1 media_player_event{type,label}
    ]
)

TOP_LEVEL = (
    "event_id",
    "app_id",
    "platform",
    "event",
    "event_vendor",
    "event_name",
    "event_format",
    "event_version",
    "domain_userid",
    "domain_sessionid",
    "network_userid",
    "user_id",
    "user_ipaddress",
    "useragent",
    "page_url",
    "page_referrer",
)
TIMESTAMPS = ("collector_tstamp", "dvce_created_tstamp", "dvce_sent_tstamp", "derived_tstamp", "etl_tstamp")

JSON_SCHEMA = pa.schema(
    [(name, _S) for name in TOP_LEVEL]
    + [(name, _TS) for name in TIMESTAMPS]
    + [
        ("unstruct_event", pa.struct([("data", pa.struct([("schema", _S), ("data", _EVENT_DATA)]))])),
        ("contexts", pa.struct([("data", pa.list_(pa.struct([("schema", _S), ("data", _ENTITY)])))])),
    ]
)
"""What Arrow's JSON reader builds; keys not listed are skipped."""

# (column, entity field) pairs flattened from each entity and from the event payload.
MEDIA_PLAYER_FIELDS = (
    ("player_current_time", "currentTime"),
    ("player_duration", "duration"),
    ("player_ended", "ended"),
    ("player_paused", "paused"),
    ("player_playback_rate", "playbackRate"),
    ("player_quality", "quality"),
    ("player_volume", "volume"),
    ("player_muted", "muted"),
    ("player_fullscreen", "fullscreen"),
    ("player_picture_in_picture", "pictureInPicture"),
    ("player_livestream", "livestream"),
    ("player_loop", "loop"),
    ("player_media_type", "mediaType"),
    ("player_type", "playerType"),
    ("player_label", "label"),
)
MEDIA_SESSION_FIELDS = (
    ("media_session_id", "mediaSessionId"),
    ("media_session_started_at", "startedAt"),
    ("media_session_ping_interval", "pingInterval"),
    ("media_session_time_played", "timePlayed"),
    ("media_session_time_played_muted", "timePlayedMuted"),
    ("media_session_time_paused", "timePaused"),
    ("media_session_content_watched", "contentWatched"),
    ("media_session_time_buffering", "timeBuffering"),
    ("media_session_time_spent_ads", "timeSpentAds"),
    ("media_session_ads", "ads"),
    ("media_session_ads_clicked", "adsClicked"),
    ("media_session_ads_skipped", "adsSkipped"),
    ("media_session_ad_breaks", "adBreaks"),
    ("media_session_avg_playback_rate", "avgPlaybackRate"),
)
CONTENT_FIELDS = (
    ("content_id", "content_id"),
    ("content_type", "content_type"),
    ("series_id", "series_id"),
    ("season_number", "season_number"),
    ("episode_number", "episode_number"),
)
EVENT_FIELDS = (
    ("percent_progress", "percentProgress"),
    ("previous_rate", "previousRate"),
    ("new_rate", "newRate"),
    ("previous_quality", "previousQuality"),
    ("new_quality", "newQuality"),
    ("bitrate", "bitrate"),
    ("frames_per_second", "framesPerSecond"),
    ("quality_change_automatic", "automatic"),
    ("previous_volume", "previousVolume"),
    ("new_volume", "newVolume"),
    ("error_code", "errorCode"),
    ("error_name", "errorName"),
    ("error_description", "errorDescription"),
    ("legacy_media_event_type", "type"),
)


def _col(data_type: str, description: str, *, nullable: bool = True, **extra: Any) -> dict[str, Any]:
    return {"data_type": data_type, "nullable": nullable, "description": description, **extra}


def _text(description: str, *, low: bool = False, nullable: bool = True) -> dict[str, Any]:
    return _col("text", description, nullable=nullable, **(low_cardinality() if low else {}))


def _ts(description: str, *, nullable: bool = True) -> dict[str, Any]:
    return _col("timestamp", description, nullable=nullable, precision=6, timezone=True)


# Column order of the raw table; each entry is the dlt column schema (types stated, not inferred).
COLUMNS: dict[str, dict[str, Any]] = {
    "event_id": _text("Snowplow event id (UUID)", nullable=False),
    "collector_tstamp": _ts("When the collector received the event, UTC", nullable=False),
    "dvce_created_tstamp": _ts("Device clock when the event was created, UTC"),
    "dvce_sent_tstamp": _ts("Device clock when the event was sent, UTC"),
    "derived_tstamp": _ts("Snowplow's skew-corrected event time, UTC"),
    "etl_tstamp": _ts("When enrichment processed the event, UTC"),
    "app_id": _text("Tracker app id (kino-web, kino-android, ...)", low=True),
    "platform": _text("Snowplow platform code (web, mob, tv, ...)", low=True),
    "event": _text("Snowplow event type (unstruct for media events)", low=True),
    "event_vendor": _text("Vendor of the self-describing event schema", low=True),
    "event_name": _text("Media event name (play_event, ping_event, ...)", low=True),
    "event_format": _text("Schema format of the event", low=True),
    "event_version": _text("Schema version of the event", low=True),
    "event_schema": _text("Iglu URI of the self-describing event", low=True),
    "domain_userid": _text("First-party device id (Metrica ClientID, AppMetrica device id, TV id)"),
    "domain_sessionid": _text("Tracker session id"),
    "network_userid": _text("Collector cookie id"),
    "user_id": _text("Logged-in user id as the tracker sent it (null when anonymous)"),
    "user_ipaddress": _text("Client IP address as enriched"),
    "useragent": _text("User agent"),
    "page_url": _text("Page URL (web only)"),
    "page_referrer": _text("Referrer URL"),
    "player_current_time": _col("double", "media_player.currentTime: playback position, s"),
    "player_duration": _col("double", "media_player.duration: media length, s"),
    "player_ended": _col("bool", "media_player.ended"),
    "player_paused": _col("bool", "media_player.paused"),
    "player_playback_rate": _col("double", "media_player.playbackRate"),
    "player_quality": _text("media_player.quality (360p ... 2160p)", low=True),
    "player_volume": _col("double", "media_player.volume, 0-100"),
    "player_muted": _col("bool", "media_player.muted"),
    "player_fullscreen": _col("bool", "media_player.fullscreen"),
    "player_picture_in_picture": _col("bool", "media_player.pictureInPicture"),
    "player_livestream": _col("bool", "media_player.livestream"),
    "player_loop": _col("bool", "media_player.loop"),
    "player_media_type": _text("media_player.mediaType (video, audio)", low=True),
    "player_type": _text("media_player.playerType", low=True),
    "player_label": _text("media_player.label (the title as the player shows it)"),
    "media_session_id": _text("media session id: one playback of one title"),
    "media_session_started_at": _ts("media session startedAt, UTC"),
    "media_session_ping_interval": _col("double", "media session pingInterval, s"),
    "media_session_time_played": _col("double", "media session timePlayed so far, s"),
    "media_session_time_played_muted": _col("double", "media session timePlayedMuted so far, s"),
    "media_session_time_paused": _col("double", "media session timePaused so far, s"),
    "media_session_content_watched": _col("double", "media session contentWatched so far, s"),
    "media_session_time_buffering": _col("double", "media session timeBuffering so far, s"),
    "media_session_time_spent_ads": _col("double", "media session timeSpentAds so far, s"),
    "media_session_ads": _col("bigint", "media session ads so far"),
    "media_session_ads_clicked": _col("bigint", "media session adsClicked so far"),
    "media_session_ads_skipped": _col("bigint", "media session adsSkipped so far"),
    "media_session_ad_breaks": _col("bigint", "media session adBreaks so far"),
    "media_session_avg_playback_rate": _col("double", "media session avgPlaybackRate"),
    "percent_progress": _col("bigint", "percent_progress_event: boundary crossed (10, 25, 50, 75, 90)"),
    "previous_rate": _col("double", "playback_rate_change_event.previousRate"),
    "new_rate": _col("double", "playback_rate_change_event.newRate"),
    "previous_quality": _text("quality_change_event.previousQuality", low=True),
    "new_quality": _text("quality_change_event.newQuality", low=True),
    "bitrate": _col("bigint", "quality_change_event.bitrate"),
    "frames_per_second": _col("double", "quality_change_event.framesPerSecond"),
    "quality_change_automatic": _col("bool", "quality_change_event.automatic"),
    "previous_volume": _col("double", "volume_change_event.previousVolume"),
    "new_volume": _col("double", "volume_change_event.newVolume"),
    "error_code": _text("error_event.errorCode"),
    "error_name": _text("error_event.errorName"),
    "error_description": _text("error_event.errorDescription"),
    "legacy_media_event_type": _text("Media v1 media_player_event.type", low=True),
    "content_id": _col("bigint", "Catalogue id of the title (content entity)"),
    "content_type": _text("film, series, season or episode (content entity)", low=True),
    "series_id": _col("bigint", "Series of an episode (content entity)"),
    "season_number": _col("bigint", "Season number of an episode (content entity)"),
    "episode_number": _col("bigint", "Episode number (content entity)"),
    "raw_event": _text(
        "The event's JSON line exactly as read (contexts and unstruct_event inside)", nullable=False
    ),
    # Where the row was read: a re-delivered event in another file is the same row, not a new
    # version, so the file is left out of the row hash.
    "source_file": _text("File the event was read from, relative to the log root", low=True, nullable=False)
    | volatile(),
}

_ARROW_TYPES = {"text": _S, "double": _F, "bool": _B, "bigint": _I}


def _arrow_type(column: dict[str, Any]) -> pa.DataType:
    if column["data_type"] == "timestamp":
        return pa.timestamp("us", tz="UTC")
    return _ARROW_TYPES[column["data_type"]]


ARROW_SCHEMA = pa.schema(
    [pa.field(name, _arrow_type(col), nullable=col["nullable"]) for name, col in COLUMNS.items()]
)
"""The Arrow tables the resource yields: exactly the columns above, in order."""

TABLE_HINTS = table_hints(
    # One string, not a list: the sink strips an outer pair of parentheses per list item, which
    # would cut the closing one off `toDate(collector_tstamp)`. Day first, so the sink's
    # duplicate check reads only the days a batch covers; then a playback's events side by side
    # (they compress well together and watch-time rebuilds read them in this order).
    order_by="(toDate(collector_tstamp), media_session_id, dvce_created_tstamp, event_id)",
    partition_by="toYYYYMM(collector_tstamp)",
)
