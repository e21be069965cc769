/* confab-h3.c: HTTP/3 framing, SETTINGS, a static-table QPACK encoder,
 * header decoding and WebTransport stream/datagram/capsule framing. Pure
 * functions over bounded buffers: they are fuzzed (fuzz/confab-fuzz-h3.c). */
#define G_LOG_DOMAIN "confab-h3"

#include "confab-h3.h"

#include <nghttp3/nghttp3.h>
#include <string.h>

size_t
confab_h3_varint_len (uint64_t value)
{
  if (value < 64)
    return 1;
  if (value < 16384)
    return 2;
  if (value < 1073741824)
    return 4;
  return 8;
}

int
confab_h3_varint_read (const uint8_t *data, size_t len, uint64_t *out)
{
  size_t n;
  uint64_t v;

  if (len == 0)
    return CONFAB_H3_NEED_MORE;
  n = (size_t) 1 << (data[0] >> 6);
  if (len < n)
    return CONFAB_H3_NEED_MORE;
  v = data[0] & 0x3f;
  for (size_t i = 1; i < n; i++)
    v = (v << 8) | data[i];
  *out = v;
  return (int) n;
}

size_t
confab_h3_varint_write (uint8_t *out, size_t cap, uint64_t value)
{
  size_t n;

  if (value > CONFAB_H3_VARINT_MAX)
    return 0;
  n = confab_h3_varint_len (value);
  if (cap < n)
    return 0;
  for (size_t i = 0; i < n; i++)
    out[n - 1 - i] = (uint8_t) (value >> (8 * i));
  switch (n)
    {
      case 2:
        out[0] |= 0x40;
        break;
      case 4:
        out[0] |= 0x80;
        break;
      case 8:
        out[0] |= 0xc0;
        break;
      default:
        break;
    }
  return n;
}

/* Shared by frames and capsules: two varints, type then length. */
static int
read_type_length (const uint8_t *data, size_t len, uint64_t *type, uint64_t *length)
{
  int a, b;

  a = confab_h3_varint_read (data, len, type);
  if (a <= 0)
    return a;
  b = confab_h3_varint_read (data + a, len - a, length);
  if (b <= 0)
    return b;
  return a + b;
}

int
confab_h3_frame_header_read (const uint8_t *data, size_t len, ConfabH3FrameHeader *out)
{
  int n = read_type_length (data, len, &out->type, &out->length);

  if (n > 0)
    out->header_len = (size_t) n;
  return n;
}

size_t
confab_h3_frame_header_write (uint8_t *out, size_t cap, uint64_t type, uint64_t length)
{
  size_t a, b;

  a = confab_h3_varint_write (out, cap, type);
  if (a == 0)
    return 0;
  b = confab_h3_varint_write (out + a, cap - a, length);
  if (b == 0)
    return 0;
  return a + b;
}

gboolean
confab_h3_settings_parse (const uint8_t *payload, size_t len, ConfabH3Settings *out)
{
  size_t off = 0;
  guint seen_mask = 0;

  memset (out, 0, sizeof *out);
  while (off < len)
    {
      uint64_t id, value;
      int a, b;
      guint bit = 0;

      a = confab_h3_varint_read (payload + off, len - off, &id);
      if (a <= 0)
        return FALSE;
      off += a;
      b = confab_h3_varint_read (payload + off, len - off, &value);
      if (b <= 0)
        return FALSE;
      off += b;

      switch (id)
        {
          case CONFAB_H3_SETTINGS_QPACK_MAX_TABLE_CAPACITY:
            bit = 1;
            out->qpack_max_table_capacity = value;
            break;
          case CONFAB_H3_SETTINGS_QPACK_BLOCKED_STREAMS:
            bit = 2;
            out->qpack_blocked_streams = value;
            break;
          case CONFAB_H3_SETTINGS_ENABLE_CONNECT_PROTOCOL:
            bit = 4;
            if (value > 1)
              return FALSE;
            out->enable_connect_protocol = value == 1;
            break;
          case CONFAB_H3_SETTINGS_H3_DATAGRAM:
            bit = 8;
            if (value > 1)
              return FALSE;
            out->h3_datagram = value == 1;
            break;
          case CONFAB_H3_SETTINGS_ENABLE_WEBTRANSPORT:
            bit = 16;
            out->webtransport_draft02 = value == 1;
            break;
          case CONFAB_H3_SETTINGS_WT_MAX_SESSIONS:
            bit = 32;
            out->wt_max_sessions = value;
            break;
          case 0x02:
          case 0x03:
          case 0x04:
          case 0x05:
            /* HTTP/2 settings that RFC 9114 §7.2.4.1 forbids. */
            return FALSE;
          default:
            break;
        }
      if (bit != 0)
        {
          if (seen_mask & bit)
            return FALSE;
          seen_mask |= bit;
        }
    }
  out->seen = TRUE;
  return TRUE;
}

size_t
confab_h3_settings_write (uint8_t *out, size_t cap)
{
  static const uint64_t settings[][2] = {
    { CONFAB_H3_SETTINGS_QPACK_MAX_TABLE_CAPACITY, 0 },
    { CONFAB_H3_SETTINGS_QPACK_BLOCKED_STREAMS, 0 },
    { CONFAB_H3_SETTINGS_ENABLE_CONNECT_PROTOCOL, 1 },
    { CONFAB_H3_SETTINGS_H3_DATAGRAM, 1 },
    { CONFAB_H3_SETTINGS_ENABLE_WEBTRANSPORT, 1 },
    { CONFAB_H3_SETTINGS_WT_MAX_SESSIONS, 1 },
  };
  uint8_t payload[64];
  size_t plen = 0, hlen;

  for (gsize i = 0; i < G_N_ELEMENTS (settings); i++)
    {
      plen += confab_h3_varint_write (payload + plen, sizeof payload - plen, settings[i][0]);
      plen += confab_h3_varint_write (payload + plen, sizeof payload - plen, settings[i][1]);
    }
  hlen = confab_h3_frame_header_write (out, cap, CONFAB_H3_FRAME_SETTINGS, plen);
  if (hlen == 0 || cap - hlen < plen)
    return 0;
  memcpy (out + hlen, payload, plen);
  return hlen + plen;
}

/* ---- QPACK encoder ------------------------------------------------------ */

/* The part of the QPACK static table (RFC 9204 Appendix A) that Confab's own
 * requests and responses use. */
static const struct
{
  guint index;
  const char *name;
  const char *value;
} static_table[] = {
  { 0, ":authority", "" },  { 1, ":path", "/" },        { 15, ":method", "CONNECT" },
  { 17, ":method", "GET" }, { 23, ":scheme", "https" }, { 25, ":status", "200" },
  { 27, ":status", "404" }, { 28, ":status", "503" },   { 67, ":status", "400" },
  { 68, ":status", "403" }, { 71, ":status", "500" },   { 90, "origin", "" },
};

void
confab_qpack_writer_init (ConfabQpackWriter *w, uint8_t *buf, size_t cap)
{
  w->data = buf;
  w->len = 0;
  w->cap = cap;
  w->overflow = FALSE;
}

static void
put_byte (ConfabQpackWriter *w, uint8_t b)
{
  if (w->len >= w->cap)
    {
      w->overflow = TRUE;
      return;
    }
  w->data[w->len++] = b;
}

/* RFC 7541 §5.1 prefixed integer; `flags` holds the bits above the prefix. */
static void
put_prefixed_int (ConfabQpackWriter *w, uint8_t flags, guint prefix_bits, uint64_t value)
{
  uint64_t max = ((uint64_t) 1 << prefix_bits) - 1;

  if (value < max)
    {
      put_byte (w, flags | (uint8_t) value);
      return;
    }
  put_byte (w, flags | (uint8_t) max);
  value -= max;
  while (value >= 128)
    {
      put_byte (w, (uint8_t) ((value & 0x7f) | 0x80));
      value >>= 7;
    }
  put_byte (w, (uint8_t) value);
}

static void
put_string (ConfabQpackWriter *w, uint8_t flags, guint prefix_bits, const char *s)
{
  size_t n = strlen (s);

  put_prefixed_int (w, flags, prefix_bits, n);
  if (w->cap - w->len < n || w->len > w->cap)
    {
      w->overflow = TRUE;
      return;
    }
  memcpy (w->data + w->len, s, n);
  w->len += n;
}

void
confab_qpack_write_prefix (ConfabQpackWriter *w)
{
  put_byte (w, 0x00);
  put_byte (w, 0x00);
}

void
confab_qpack_write_field (ConfabQpackWriter *w, const char *name, const char *value)
{
  int name_index = -1;

  for (gsize i = 0; i < G_N_ELEMENTS (static_table); i++)
    {
      if (strcmp (static_table[i].name, name) != 0)
        continue;
      if (strcmp (static_table[i].value, value) == 0)
        {
          /* Indexed field line, static: 1 T=1 index(6). */
          put_prefixed_int (w, 0xc0, 6, static_table[i].index);
          return;
        }
      if (name_index < 0)
        name_index = (int) static_table[i].index;
    }

  if (name_index >= 0)
    {
      /* Literal with name reference: 01 N=0 T=1 index(4), then H=0 value. */
      put_prefixed_int (w, 0x50, 4, (uint64_t) name_index);
      put_string (w, 0x00, 7, value);
      return;
    }
  /* Literal with literal name: 001 N=0 H=0 length(3), name, H=0 value. */
  put_string (w, 0x20, 3, name);
  put_string (w, 0x00, 7, value);
}

static size_t
wrap_headers (uint8_t *out, size_t cap, const ConfabQpackWriter *w)
{
  size_t hlen;

  if (w->overflow)
    return 0;
  hlen = confab_h3_frame_header_write (out, cap, CONFAB_H3_FRAME_HEADERS, w->len);
  if (hlen == 0 || cap - hlen < w->len)
    return 0;
  memcpy (out + hlen, w->data, w->len);
  return hlen + w->len;
}

size_t
confab_h3_write_response (uint8_t *out, size_t cap, guint status)
{
  uint8_t block[128];
  char code[8];
  ConfabQpackWriter w;

  if (status < 100 || status > 999)
    return 0;
  g_snprintf (code, sizeof code, "%u", status);
  confab_qpack_writer_init (&w, block, sizeof block);
  confab_qpack_write_prefix (&w);
  confab_qpack_write_field (&w, ":status", code);
  /* Draft-02 peers (Chromium among them) look for this answer. */
  if (status == 200)
    confab_qpack_write_field (&w, "sec-webtransport-http3-draft", "draft02");
  return wrap_headers (out, cap, &w);
}

size_t
confab_h3_write_connect (uint8_t *out, size_t cap, const char *authority, const char *path)
{
  uint8_t block[CONFAB_H3_MAX_HEADERS_SIZE];
  ConfabQpackWriter w;

  confab_qpack_writer_init (&w, block, sizeof block);
  confab_qpack_write_prefix (&w);
  confab_qpack_write_field (&w, ":method", "CONNECT");
  confab_qpack_write_field (&w, ":protocol", "webtransport");
  confab_qpack_write_field (&w, ":scheme", "https");
  confab_qpack_write_field (&w, ":authority", authority);
  confab_qpack_write_field (&w, ":path", path);
  confab_qpack_write_field (&w, "sec-webtransport-http3-draft02", "1");
  return wrap_headers (out, cap, &w);
}

/* ---- header decoding ----------------------------------------------------- */

static gboolean
store_string (ConfabH3HeaderList *out, const uint8_t *s, size_t n, const char **dest)
{
  if (sizeof out->storage - out->used < n + 1)
    return FALSE;
  memcpy (out->storage + out->used, s, n);
  out->storage[out->used + n] = '\0';
  /* A NUL inside a field would let "a\0b" pass for "a": refuse it. */
  if (memchr (s, '\0', n) != NULL)
    return FALSE;
  *dest = out->storage + out->used;
  out->used += n + 1;
  return TRUE;
}

gboolean
confab_h3_headers_decode (const uint8_t *payload, size_t len, ConfabH3HeaderList *out)
{
  nghttp3_qpack_decoder *decoder = NULL;
  nghttp3_qpack_stream_context *sctx = NULL;
  const nghttp3_mem *mem = nghttp3_mem_default ();
  gboolean ok = FALSE, final = FALSE;
  size_t off = 0;

  out->n_fields = 0;
  out->used = 0;
  if (len > CONFAB_H3_MAX_HEADERS_SIZE)
    return FALSE;
  /* A decoder per block is cheap (no table) and keeps this function pure:
   * with capacity 0, any dynamic-table reference is a decoding error. */
  if (nghttp3_qpack_decoder_new (&decoder, 0, 0, mem) != 0)
    return FALSE;
  if (nghttp3_qpack_stream_context_new (&sctx, 0, mem) != 0)
    goto out;

  /* Each call emits at most one field; the count bound keeps this finite. */
  for (guint guard = 0; guard < CONFAB_H3_MAX_HEADERS + 2 && !final; guard++)
    {
      nghttp3_qpack_nv nv;
      uint8_t flags = 0;
      nghttp3_ssize n;

      n = nghttp3_qpack_decoder_read_request (decoder, sctx, &nv, &flags, payload + off, len - off,
                                              1);
      if (n < 0)
        goto out;
      off += (size_t) n;
      if (flags & NGHTTP3_QPACK_DECODE_FLAG_BLOCKED)
        goto out;
      if (flags & NGHTTP3_QPACK_DECODE_FLAG_EMIT)
        {
          nghttp3_vec name = nghttp3_rcbuf_get_buf (nv.name);
          nghttp3_vec value = nghttp3_rcbuf_get_buf (nv.value);
          gboolean stored =
              out->n_fields < CONFAB_H3_MAX_HEADERS &&
              store_string (out, name.base, name.len, &out->fields[out->n_fields].name) &&
              store_string (out, value.base, value.len, &out->fields[out->n_fields].value);

          nghttp3_rcbuf_decref (nv.name);
          nghttp3_rcbuf_decref (nv.value);
          if (!stored)
            goto out;
          out->n_fields++;
        }
      if (flags & NGHTTP3_QPACK_DECODE_FLAG_FINAL)
        final = TRUE;
      else if (n == 0 && !(flags & NGHTTP3_QPACK_DECODE_FLAG_EMIT))
        goto out;
    }
  ok = final && off == len;

out:
  if (sctx != NULL)
    nghttp3_qpack_stream_context_del (sctx);
  nghttp3_qpack_decoder_del (decoder);
  return ok;
}

const char *
confab_h3_headers_get (const ConfabH3HeaderList *list, const char *name)
{
  for (guint i = 0; i < list->n_fields; i++)
    if (strcmp (list->fields[i].name, name) == 0)
      return list->fields[i].value;
  return NULL;
}

/* ---- WebTransport framing ------------------------------------------------ */

size_t
confab_wt_stream_header_write (uint8_t *out, size_t cap, gboolean bidi, uint64_t session_id)
{
  size_t a, b;

  a = confab_h3_varint_write (out, cap, bidi ? CONFAB_H3_FRAME_WT_STREAM : CONFAB_H3_STREAM_WT_UNI);
  if (a == 0)
    return 0;
  b = confab_h3_varint_write (out + a, cap - a, session_id);
  return b == 0 ? 0 : a + b;
}

size_t
confab_wt_datagram_prefix_write (uint8_t *out, size_t cap, uint64_t session_id)
{
  /* Session ids are client-initiated bidi stream ids, multiples of 4. */
  return confab_h3_varint_write (out, cap, session_id / 4);
}

int
confab_wt_datagram_prefix_read (const uint8_t *data, size_t len, uint64_t *session_id)
{
  uint64_t q;
  int n = confab_h3_varint_read (data, len, &q);

  if (n <= 0)
    return n;
  if (q > CONFAB_H3_VARINT_MAX / 4)
    return CONFAB_H3_MALFORMED;
  *session_id = q * 4;
  return n;
}

int
confab_h3_capsule_header_read (const uint8_t *data, size_t len, ConfabH3CapsuleHeader *out)
{
  int n = read_type_length (data, len, &out->type, &out->length);

  if (n > 0)
    out->header_len = (size_t) n;
  return n;
}

gboolean
confab_wt_close_capsule_parse (const uint8_t *payload, size_t len, guint32 *code, char **reason)
{
  if (len < 4 || len - 4 > CONFAB_WT_MAX_CLOSE_REASON)
    return FALSE;
  *code = ((guint32) payload[0] << 24) | ((guint32) payload[1] << 16) |
          ((guint32) payload[2] << 8) | payload[3];
  *reason = g_utf8_make_valid ((const char *) payload + 4, (gssize) (len - 4));
  return TRUE;
}

size_t
confab_wt_close_capsule_write (uint8_t *out, size_t cap, guint32 code, const char *reason)
{
  size_t rlen = reason != NULL ? strlen (reason) : 0;
  uint8_t capsule_hdr[16];
  size_t chlen, fhlen, clen;

  if (rlen > CONFAB_WT_MAX_CLOSE_REASON)
    rlen = CONFAB_WT_MAX_CLOSE_REASON;
  chlen = confab_h3_frame_header_write (capsule_hdr, sizeof capsule_hdr,
                                        CONFAB_WT_CAPSULE_CLOSE_SESSION, 4 + rlen);
  clen = chlen + 4 + rlen;
  fhlen = confab_h3_frame_header_write (out, cap, CONFAB_H3_FRAME_DATA, clen);
  if (fhlen == 0 || cap - fhlen < clen)
    return 0;
  memcpy (out + fhlen, capsule_hdr, chlen);
  out[fhlen + chlen] = (uint8_t) (code >> 24);
  out[fhlen + chlen + 1] = (uint8_t) (code >> 16);
  out[fhlen + chlen + 2] = (uint8_t) (code >> 8);
  out[fhlen + chlen + 3] = (uint8_t) code;
  if (rlen > 0)
    memcpy (out + fhlen + chlen + 4, reason, rlen);
  return fhlen + clen;
}
