/* confab-fuzz-classify.c: libFuzzer target for the relay's packet classifier
 * (server/confab-relay-classify.c), plus the stamping repack the relay does
 * on every forwarded packet. Any bytes at all must give a verdict, and a
 * forwarded packet must repack with the new session id. */
#include <stdint.h>
#include <stdlib.h>

#include "confab-packet.h"
#include "confab-relay-classify.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  static ConfabArena *arena;
  ConfabRelayClassification c;

  if (arena == NULL)
    arena = confab_arena_new (64 * 1024);
  confab_arena_reset (arena);
  confab_relay_classify (data, size, arena, &c);

  if (c.verdict > CONFAB_RELAY_VERDICT_FORWARD)
    abort ();
  if ((c.verdict == CONFAB_RELAY_VERDICT_OPAQUE) != (c.wrapper == NULL))
    abort ();
  if (c.verdict == CONFAB_RELAY_VERDICT_RTT_ECHO && c.media_type != CONFAB_MEDIA_RTT)
    abort ();

  if (c.verdict == CONFAB_RELAY_VERDICT_FORWARD ||
      c.verdict == CONFAB_RELAY_VERDICT_KEYFRAME_REQUEST)
    {
      ConfabPacketWrapper *again;
      size_t len;
      uint8_t *out;

      c.wrapper->session_id = 0x0123456789abcdefULL;
      len = confab__packet_wrapper__get_packed_size (c.wrapper);
      out = malloc (len + 1);
      if (confab__packet_wrapper__pack (c.wrapper, out) != len)
        abort ();
      again = confab__packet_wrapper__unpack (NULL, len, out);
      if (again == NULL || again->session_id != 0x0123456789abcdefULL ||
          again->packet_type != c.wrapper->packet_type || again->data.len != c.wrapper->data.len)
        abort ();
      confab__packet_wrapper__free_unpacked (again, NULL);
      free (out);
    }
  return 0;
}
