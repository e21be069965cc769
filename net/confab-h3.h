/* confab-h3.h: the small slice of HTTP/3 (RFC 9114), QPACK (RFC 9204) and
 * WebTransport over HTTP/3 that Confab needs, as pure functions over byte
 * buffers. Nothing here touches a socket or trusts a length it read: every
 * parser takes (data, len) and says how much it consumed, or that it needs
 * more, or that the input is malformed. The QUIC layer (confab-wt-conn.c)
 * and the fuzz targets are its only callers. */
#pragma once

#include <glib.h>
#include <stddef.h>
#include <stdint.h>

G_BEGIN_DECLS

/* QUIC variable-length integers (RFC 9000 §16). */
#define CONFAB_H3_VARINT_MAX ((uint64_t) 0x3fffffffffffffffULL)

/* What a parser returns besides "consumed n bytes" (> 0). */
#define CONFAB_H3_NEED_MORE (0)
#define CONFAB_H3_MALFORMED (-1)

/* HTTP/3 frame types. */
enum
{
  CONFAB_H3_FRAME_DATA = 0x00,
  CONFAB_H3_FRAME_HEADERS = 0x01,
  CONFAB_H3_FRAME_SETTINGS = 0x04,
  CONFAB_H3_FRAME_GOAWAY = 0x07,
  /* draft-ietf-webtrans-http3: a bidi stream that opens with this "frame"
   * type is a WebTransport stream, not a request. */
  CONFAB_H3_FRAME_WT_STREAM = 0x41,
};

/* Unidirectional stream types. */
enum
{
  CONFAB_H3_STREAM_CONTROL = 0x00,
  CONFAB_H3_STREAM_PUSH = 0x01,
  CONFAB_H3_STREAM_QPACK_ENCODER = 0x02,
  CONFAB_H3_STREAM_QPACK_DECODER = 0x03,
  CONFAB_H3_STREAM_WT_UNI = 0x54,
};

/* SETTINGS identifiers Chromium looks for (see PLATFORM.md). */
enum
{
  CONFAB_H3_SETTINGS_QPACK_MAX_TABLE_CAPACITY = 0x01,
  CONFAB_H3_SETTINGS_MAX_FIELD_SECTION_SIZE = 0x06,
  CONFAB_H3_SETTINGS_QPACK_BLOCKED_STREAMS = 0x07,
  CONFAB_H3_SETTINGS_ENABLE_CONNECT_PROTOCOL = 0x08,
  CONFAB_H3_SETTINGS_H3_DATAGRAM = 0x33,
  CONFAB_H3_SETTINGS_ENABLE_WEBTRANSPORT = 0x2b603742,
  CONFAB_H3_SETTINGS_WT_MAX_SESSIONS = 0xc671706a,
};

/* HTTP/3 and WebTransport error codes. */
enum
{
  CONFAB_H3_NO_ERROR = 0x100,
  CONFAB_H3_GENERAL_PROTOCOL_ERROR = 0x101,
  CONFAB_H3_INTERNAL_ERROR = 0x102,
  CONFAB_H3_STREAM_CREATION_ERROR = 0x103,
  CONFAB_H3_CLOSED_CRITICAL_STREAM = 0x104,
  CONFAB_H3_FRAME_UNEXPECTED = 0x105,
  CONFAB_H3_FRAME_ERROR = 0x106,
  CONFAB_H3_EXCESSIVE_LOAD = 0x107,
  CONFAB_H3_ID_ERROR = 0x108,
  CONFAB_H3_SETTINGS_ERROR = 0x109,
  CONFAB_H3_MISSING_SETTINGS = 0x10a,
  CONFAB_H3_REQUEST_REJECTED = 0x10b,
  CONFAB_H3_REQUEST_CANCELLED = 0x10c,
  CONFAB_H3_MESSAGE_ERROR = 0x10e,
  CONFAB_WT_SESSION_GONE = 0x170d7b68,
};

/* Capsule types (RFC 9297 and draft-ietf-webtrans-http3). */
enum
{
  CONFAB_WT_CAPSULE_CLOSE_SESSION = 0x2843,
  CONFAB_WT_CAPSULE_DRAIN_SESSION = 0x78ae,
};

/* Largest HEADERS block we accept; larger is an attack, not a browser. */
#define CONFAB_H3_MAX_HEADERS_SIZE (16 * 1024)
/* Longest reason in a CLOSE_WEBTRANSPORT_SESSION capsule (draft: 1024). */
#define CONFAB_WT_MAX_CLOSE_REASON 1024

size_t confab_h3_varint_len (uint64_t value);
/* Returns the bytes read (1, 2, 4 or 8), CONFAB_H3_NEED_MORE if len is short. */
int confab_h3_varint_read (const uint8_t *data, size_t len, uint64_t *out);
/* Returns the bytes written, or 0 if cap is too small or value too large. */
size_t confab_h3_varint_write (uint8_t *out, size_t cap, uint64_t value);

typedef struct
{
  uint64_t type;
  uint64_t length;   /* of the payload */
  size_t header_len; /* type + length varints */
} ConfabH3FrameHeader;

/* Reads a frame header; returns header_len, NEED_MORE or MALFORMED. The
 * payload is not required to be present. */
int confab_h3_frame_header_read (const uint8_t *data, size_t len, ConfabH3FrameHeader *out);
/* Writes a frame header (type + length); returns bytes or 0 if cap too small. */
size_t confab_h3_frame_header_write (uint8_t *out, size_t cap, uint64_t type, uint64_t length);

typedef struct
{
  gboolean seen;
  uint64_t qpack_max_table_capacity;
  uint64_t qpack_blocked_streams;
  gboolean enable_connect_protocol;
  gboolean h3_datagram;
  gboolean webtransport_draft02;
  uint64_t wt_max_sessions;
} ConfabH3Settings;

/* Parses a SETTINGS payload (without the frame header). Unknown and reserved
 * identifiers are skipped; a repeated identifier is MALFORMED (RFC 9114
 * §7.2.4). Returns TRUE if well formed. */
gboolean confab_h3_settings_parse (const uint8_t *payload, size_t len, ConfabH3Settings *out);
/* Writes the whole SETTINGS frame Confab sends (PLATFORM.md). Returns bytes. */
size_t confab_h3_settings_write (uint8_t *out, size_t cap);

/* QPACK: encoder that uses only the static table and literal names (we
 * advertise a zero dynamic table, so a peer never needs our encoder stream). */
typedef struct
{
  uint8_t *data;
  size_t len;
  size_t cap;
  gboolean overflow;
} ConfabQpackWriter;

void confab_qpack_writer_init (ConfabQpackWriter *w, uint8_t *buf, size_t cap);
/* Field section prefix: Required Insert Count 0, Delta Base 0. */
void confab_qpack_write_prefix (ConfabQpackWriter *w);
/* Adds one field line: an exact static-table match when there is one, else a
 * static name reference, else a literal name. Names must be lowercase. */
void confab_qpack_write_field (ConfabQpackWriter *w, const char *name, const char *value);

/* One decoded header field, pointing into a ConfabH3HeaderList's storage. */
typedef struct
{
  const char *name;
  const char *value;
} ConfabH3Header;

#define CONFAB_H3_MAX_HEADERS 32

typedef struct
{
  ConfabH3Header fields[CONFAB_H3_MAX_HEADERS];
  guint n_fields;
  char storage[CONFAB_H3_MAX_HEADERS_SIZE + 2 * CONFAB_H3_MAX_HEADERS];
  size_t used;
} ConfabH3HeaderList;

/* Decodes one HEADERS payload (a whole QPACK field section) with nghttp3's
 * QPACK decoder (it handles Huffman and every representation; our zero
 * dynamic table makes any dynamic reference an error). Returns FALSE on a
 * malformed block, too many fields or too many bytes. */
gboolean confab_h3_headers_decode (const uint8_t *payload, size_t len, ConfabH3HeaderList *out);
const char *confab_h3_headers_get (const ConfabH3HeaderList *list, const char *name);

/* Builds a HEADERS frame with `:status <status>` (and the draft-02 response
 * header Chromium understands). Returns bytes written or 0. */
size_t confab_h3_write_response (uint8_t *out, size_t cap, guint status);
/* Builds the HEADERS frame of an extended CONNECT for WebTransport. */
size_t confab_h3_write_connect (uint8_t *out, size_t cap, const char *authority, const char *path);

/* The bytes that open a WebTransport stream: bidi `0x41 sid`, uni `0x54 sid`. */
size_t confab_wt_stream_header_write (uint8_t *out, size_t cap, gboolean bidi, uint64_t session_id);
/* A datagram carries the quarter stream id of the CONNECT stream first. */
size_t confab_wt_datagram_prefix_write (uint8_t *out, size_t cap, uint64_t session_id);
/* Returns the prefix length and the session id, or MALFORMED/NEED_MORE. */
int confab_wt_datagram_prefix_read (const uint8_t *data, size_t len, uint64_t *session_id);

typedef struct
{
  uint64_t type;
  uint64_t length;
  size_t header_len;
} ConfabH3CapsuleHeader;

/* Same contract as confab_h3_frame_header_read. */
int confab_h3_capsule_header_read (const uint8_t *data, size_t len, ConfabH3CapsuleHeader *out);
/* Parses a CLOSE_WEBTRANSPORT_SESSION payload; the reason is copied (NUL
 * terminated, invalid UTF-8 replaced). */
gboolean
confab_wt_close_capsule_parse (const uint8_t *payload, size_t len, guint32 *code, char **reason);
/* Writes a DATA frame carrying a CLOSE_WEBTRANSPORT_SESSION capsule. */
size_t confab_wt_close_capsule_write (uint8_t *out, size_t cap, guint32 code, const char *reason);

G_END_DECLS
