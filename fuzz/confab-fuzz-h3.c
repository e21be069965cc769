/* confab-fuzz-h3.c: libFuzzer target for the HTTP/3 / QPACK / WebTransport
 * parsers in net/confab-h3.c, walking the input the way a QUIC stream is
 * walked (stream type, frames, capsules inside DATA). Any bytes must be
 * parsed within bounds, and whatever parses must re-encode consistently. */
#include <glib.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "confab-h3.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
walk_capsules (const uint8_t *data, size_t size)
{
  size_t off = 0;

  while (off < size)
    {
      ConfabH3CapsuleHeader ch;
      int n = confab_h3_capsule_header_read (data + off, size - off, &ch);

      if (n <= 0 || ch.length > size - off - (size_t) n)
        return;
      if (ch.type == CONFAB_WT_CAPSULE_CLOSE_SESSION)
        {
          guint32 code;
          char *reason = NULL;

          if (confab_wt_close_capsule_parse (data + off + n, ch.length, &code, &reason))
            {
              if (!g_utf8_validate (reason, -1, NULL))
                abort ();
              g_free (reason);
            }
        }
      off += (size_t) n + ch.length;
    }
}

static void
walk_frames (const uint8_t *data, size_t size)
{
  static ConfabH3HeaderList list;
  size_t off = 0;

  while (off < size)
    {
      ConfabH3FrameHeader fh;
      ConfabH3Settings settings;
      int n = confab_h3_frame_header_read (data + off, size - off, &fh);

      if (n <= 0)
        return;
      if ((size_t) n != fh.header_len || fh.header_len > 16)
        abort ();
      if (fh.length > size - off - (size_t) n)
        return;
      switch (fh.type)
        {
          case CONFAB_H3_FRAME_SETTINGS:
            confab_h3_settings_parse (data + off + n, fh.length, &settings);
            break;
          case CONFAB_H3_FRAME_HEADERS:
            if (confab_h3_headers_decode (data + off + n, fh.length, &list))
              {
                if (list.n_fields > CONFAB_H3_MAX_HEADERS || list.used > sizeof list.storage)
                  abort ();
                for (guint i = 0; i < list.n_fields; i++)
                  /* Huffman expands at most 8/5; a static entry adds < 128 bytes. */
                  if (strlen (list.fields[i].name) + strlen (list.fields[i].value) >
                      fh.length * 8 / 5 + 128)
                    abort ();
              }
            break;
          case CONFAB_H3_FRAME_DATA:
            walk_capsules (data + off + n, fh.length);
            break;
          default:
            break;
        }
      off += (size_t) n + fh.length;
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  uint64_t v = 0, sid = 0;
  int n;

  /* Varints round-trip. */
  n = confab_h3_varint_read (data, size, &v);
  if (n > 0)
    {
      uint8_t out[8];
      size_t m = confab_h3_varint_write (out, sizeof out, v);

      if (m == 0 || m > (size_t) n || v > CONFAB_H3_VARINT_MAX)
        abort ();
    }
  n = confab_wt_datagram_prefix_read (data, size, &sid);
  if (n > 0 && sid % 4 != 0)
    abort ();

  /* As a unidirectional stream: type, then per type. */
  n = confab_h3_varint_read (data, size, &v);
  if (n > 0)
    {
      if (v == CONFAB_H3_STREAM_CONTROL)
        walk_frames (data + n, size - (size_t) n);
      else if (v == CONFAB_H3_STREAM_WT_UNI || v == CONFAB_H3_FRAME_WT_STREAM)
        (void) confab_h3_varint_read (data + n, size - (size_t) n, &sid);
    }
  /* As a request stream. */
  walk_frames (data, size);
  return 0;
}
