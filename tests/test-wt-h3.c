/* test-wt-h3.c: the HTTP/3 / QPACK / WebTransport codec against hand-written
 * wire bytes, then a bounded mutation run over the same parsers that the
 * libFuzzer target drives (fuzz/confab-fuzz-h3.c), so a normal build also
 * exercises malformed input. */
#include "confab-h3.h"

#include <string.h>

static void
test_varint (void)
{
  /* RFC 9000 §A.1 examples. */
  static const struct
  {
    guint8 bytes[8];
    gsize len;
    guint64 value;
  } cases[] = {
    { { 0xc2, 0x19, 0x7c, 0x5e, 0xff, 0x14, 0xe8, 0x8c }, 8, 151288809941952652ULL },
    { { 0x9d, 0x7f, 0x3e, 0x7d }, 4, 494878333 },
    { { 0x7b, 0xbd }, 2, 15293 },
    { { 0x25 }, 1, 37 },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      guint64 v = 0;
      guint8 out[8];

      g_assert_cmpint (confab_h3_varint_read (cases[i].bytes, cases[i].len, &v), ==, cases[i].len);
      g_assert_cmpuint (v, ==, cases[i].value);
      /* One byte short is "need more", never a wrong value. */
      g_assert_cmpint (confab_h3_varint_read (cases[i].bytes, cases[i].len - 1, &v), ==,
                       CONFAB_H3_NEED_MORE);
      g_assert_cmpuint (confab_h3_varint_write (out, sizeof out, cases[i].value), ==, cases[i].len);
      g_assert_cmpmem (out, cases[i].len, cases[i].bytes, cases[i].len);
    }
  {
    guint8 out[8];

    g_assert_cmpuint (confab_h3_varint_write (out, sizeof out, CONFAB_H3_VARINT_MAX + 1), ==, 0);
    g_assert_cmpuint (confab_h3_varint_write (out, 3, 494878333), ==, 0);
  }
}

static void
test_settings (void)
{
  guint8 buf[128];
  gsize n = confab_h3_settings_write (buf, sizeof buf);
  ConfabH3FrameHeader fh;
  ConfabH3Settings s;

  g_assert_cmpuint (n, >, 0);
  g_assert_cmpint (confab_h3_frame_header_read (buf, n, &fh), >, 0);
  g_assert_cmpuint (fh.type, ==, CONFAB_H3_FRAME_SETTINGS);
  g_assert_cmpuint (fh.header_len + fh.length, ==, n);
  g_assert_true (confab_h3_settings_parse (buf + fh.header_len, fh.length, &s));
  /* Exactly what Chromium needs (PLATFORM.md). */
  g_assert_true (s.enable_connect_protocol);
  g_assert_true (s.h3_datagram);
  g_assert_true (s.webtransport_draft02);
  g_assert_cmpuint (s.wt_max_sessions, >=, 1);
  g_assert_cmpuint (s.qpack_max_table_capacity, ==, 0);
  /* The 4-byte WebTransport id is spelled out on the wire. */
  g_assert_nonnull (memmem (buf, n, "\x33\x01", 2));
  {
    static const guint8 wt[] = { 0xab, 0x60, 0x37, 0x42, 0x01 };

    g_assert_nonnull (memmem (buf, n, wt, sizeof wt));
  }

  /* Duplicates and HTTP/2-only ids are errors; unknown ids are skipped. */
  {
    static const guint8 dup[] = { 0x08, 0x01, 0x08, 0x01 };
    static const guint8 h2[] = { 0x02, 0x00 };
    static const guint8 grease[] = { 0x40 | 0x21 >> 8, 0x21, 0x05, 0x33, 0x01 };
    static const guint8 truncated[] = { 0x08 };

    g_assert_false (confab_h3_settings_parse (dup, sizeof dup, &s));
    g_assert_false (confab_h3_settings_parse (h2, sizeof h2, &s));
    g_assert_false (confab_h3_settings_parse (truncated, sizeof truncated, &s));
    g_assert_true (confab_h3_settings_parse (grease, sizeof grease, &s));
    g_assert_true (s.h3_datagram);
  }
}

static void
test_qpack (void)
{
  guint8 frame[512];
  ConfabH3FrameHeader fh;
  g_autofree ConfabH3HeaderList *list = g_new (ConfabH3HeaderList, 1);
  gsize n;

  n = confab_h3_write_connect (frame, sizeof frame, "127.0.0.1:4433", "/lobby/alice/room1");
  g_assert_cmpuint (n, >, 0);
  g_assert_cmpint (confab_h3_frame_header_read (frame, n, &fh), >, 0);
  g_assert_cmpuint (fh.type, ==, CONFAB_H3_FRAME_HEADERS);
  g_assert_true (confab_h3_headers_decode (frame + fh.header_len, fh.length, list));
  g_assert_cmpstr (confab_h3_headers_get (list, ":method"), ==, "CONNECT");
  g_assert_cmpstr (confab_h3_headers_get (list, ":protocol"), ==, "webtransport");
  g_assert_cmpstr (confab_h3_headers_get (list, ":scheme"), ==, "https");
  g_assert_cmpstr (confab_h3_headers_get (list, ":authority"), ==, "127.0.0.1:4433");
  g_assert_cmpstr (confab_h3_headers_get (list, ":path"), ==, "/lobby/alice/room1");

  /* :status 200 is one static-table byte: 0xd9 (index 25). */
  n = confab_h3_write_response (frame, sizeof frame, 200);
  g_assert_cmpint (confab_h3_frame_header_read (frame, n, &fh), >, 0);
  g_assert_cmpuint (frame[fh.header_len + 2], ==, 0xd9);
  g_assert_true (confab_h3_headers_decode (frame + fh.header_len, fh.length, list));
  g_assert_cmpstr (confab_h3_headers_get (list, ":status"), ==, "200");

  /* 401 is not in the static table: literal value with a name reference. */
  n = confab_h3_write_response (frame, sizeof frame, 401);
  g_assert_cmpint (confab_h3_frame_header_read (frame, n, &fh), >, 0);
  g_assert_true (confab_h3_headers_decode (frame + fh.header_len, fh.length, list));
  g_assert_cmpstr (confab_h3_headers_get (list, ":status"), ==, "401");

  /* A Huffman-coded value as browsers send them: ":authority" by static
   * name reference, "www.example.com" Huffman-coded (RFC 7541 C.4.1). */
  {
    static const guint8 block[] = { 0x00, 0x00, 0x50, 0x8c, 0xf1, 0xe3, 0xc2, 0xe5,
                                    0xf2, 0x3a, 0x6b, 0xa0, 0xab, 0x90, 0xf4, 0xff };

    g_assert_true (confab_h3_headers_decode (block, sizeof block, list));
    g_assert_cmpstr (confab_h3_headers_get (list, ":authority"), ==, "www.example.com");
  }
  /* A dynamic-table reference is refused (we advertise capacity 0). */
  {
    static const guint8 dynamic[] = { 0x02, 0x00, 0x80 };

    g_assert_false (confab_h3_headers_decode (dynamic, sizeof dynamic, list));
  }
  /* Truncated block. */
  g_assert_false (confab_h3_headers_decode (frame + fh.header_len, fh.length - 1, list));
}

static void
test_wt_framing (void)
{
  guint8 buf[2048];
  guint64 sid = 0, v = 0;
  ConfabH3FrameHeader fh;
  ConfabH3CapsuleHeader ch;
  guint32 code = 0;
  g_autofree char *reason = NULL;
  gsize n;
  int m;

  n = confab_wt_stream_header_write (buf, sizeof buf, FALSE, 4);
  g_assert_cmpuint (n, ==, 3);
  g_assert_cmpmem (buf, 3, "\x40\x54\x04", 3);
  n = confab_wt_stream_header_write (buf, sizeof buf, TRUE, 0);
  g_assert_cmpmem (buf, n, "\x40\x41\x00", 3);

  n = confab_wt_datagram_prefix_write (buf, sizeof buf, 8);
  g_assert_cmpmem (buf, n, "\x02", 1);
  g_assert_cmpint (confab_wt_datagram_prefix_read (buf, n, &sid), ==, 1);
  g_assert_cmpuint (sid, ==, 8);

  n = confab_wt_close_capsule_write (buf, sizeof buf, 7, "bye");
  g_assert_cmpint (confab_h3_frame_header_read (buf, n, &fh), >, 0);
  g_assert_cmpuint (fh.type, ==, CONFAB_H3_FRAME_DATA);
  m = confab_h3_capsule_header_read (buf + fh.header_len, fh.length, &ch);
  g_assert_cmpint (m, >, 0);
  g_assert_cmpuint (ch.type, ==, CONFAB_WT_CAPSULE_CLOSE_SESSION);
  g_assert_cmpuint (ch.length, ==, 4 + 3);
  g_assert_true (
      confab_wt_close_capsule_parse (buf + fh.header_len + m, ch.length, &code, &reason));
  g_assert_cmpuint (code, ==, 7);
  g_assert_cmpstr (reason, ==, "bye");
  g_clear_pointer (&reason, g_free);

  /* Too short for the code, too long a reason, invalid UTF-8 repaired. */
  g_assert_false (confab_wt_close_capsule_parse ((const guint8 *) "\0\0\0", 3, &code, &reason));
  {
    g_autofree guint8 *big = g_malloc0 (4 + CONFAB_WT_MAX_CLOSE_REASON + 1);

    g_assert_false (
        confab_wt_close_capsule_parse (big, 4 + CONFAB_WT_MAX_CLOSE_REASON + 1, &code, &reason));
  }
  g_assert_true (
      confab_wt_close_capsule_parse ((const guint8 *) "\0\0\0\1\xff\xfe", 6, &code, &reason));
  g_assert_true (g_utf8_validate (reason, -1, NULL));
  (void) v;
}

/* Feeds every parser a buffer; they must neither crash nor read past it. */
static void
parse_everything (const guint8 *data, gsize len)
{
  g_autofree ConfabH3HeaderList *list = g_new (ConfabH3HeaderList, 1);
  ConfabH3FrameHeader fh;
  ConfabH3CapsuleHeader ch;
  ConfabH3Settings s;
  guint64 v;
  guint32 code;
  char *reason = NULL;
  gsize off = 0;

  confab_h3_varint_read (data, len, &v);
  confab_wt_datagram_prefix_read (data, len, &v);
  confab_h3_settings_parse (data, len, &s);
  confab_h3_headers_decode (data, len, list);
  if (confab_wt_close_capsule_parse (data, len, &code, &reason))
    g_free (reason);
  /* Walk frames as a stream would, bounded by the input. */
  while (off < len)
    {
      int n = confab_h3_frame_header_read (data + off, len - off, &fh);

      if (n <= 0 || fh.length > len - off - (gsize) n)
        break;
      if (fh.type == CONFAB_H3_FRAME_SETTINGS)
        confab_h3_settings_parse (data + off + n, fh.length, &s);
      else if (fh.type == CONFAB_H3_FRAME_HEADERS)
        confab_h3_headers_decode (data + off + n, fh.length, list);
      else if (fh.type == CONFAB_H3_FRAME_DATA &&
               confab_h3_capsule_header_read (data + off + n, fh.length, &ch) > 0)
        (void) ch;
      off += (gsize) n + fh.length;
    }
}

static void
test_mutations (void)
{
  guint8 seeds[4][512];
  gsize seed_len[4];
  GRand *rand = g_rand_new_with_seed (0xc0ffee);
  guint iterations = g_test_slow () ? 200000 : 20000;

  seed_len[0] = confab_h3_settings_write (seeds[0], sizeof seeds[0]);
  seed_len[1] = confab_h3_write_connect (seeds[1], sizeof seeds[1], "h:1", "/lobby/a/b");
  seed_len[2] = confab_h3_write_response (seeds[2], sizeof seeds[2], 403);
  seed_len[3] = confab_wt_close_capsule_write (seeds[3], sizeof seeds[3], 1, "reason");

  for (guint i = 0; i < iterations; i++)
    {
      guint which = g_rand_int_range (rand, 0, 4);
      gsize len = seed_len[which];
      /* Heap copy of exactly len bytes so ASan/valgrind catch overreads. */
      g_autofree guint8 *buf = g_memdup2 (seeds[which], len);
      guint flips = g_rand_int_range (rand, 1, 6);

      for (guint f = 0; f < flips; f++)
        buf[g_rand_int_range (rand, 0, (gint32) len)] = (guint8) g_rand_int (rand);
      len = g_rand_int_range (rand, 0, (gint32) len + 1);
      parse_everything (buf, len);
    }
  g_rand_free (rand);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/net/h3/varint", test_varint);
  g_test_add_func ("/net/h3/settings", test_settings);
  g_test_add_func ("/net/h3/qpack", test_qpack);
  g_test_add_func ("/net/h3/wt-framing", test_wt_framing);
  g_test_add_func ("/net/h3/mutations", test_mutations);
  return g_test_run ();
}
