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
      /* Every stamping path: as is, append (no id on the wire) and repack. */
      const uint64_t ids[] = { c.wrapper->session_id, 0x0123456789abcdefULL, 1, 300 };
      uint64_t original = c.wrapper->session_id;
      int type = c.wrapper->packet_type;
      size_t data_len = c.wrapper->data.len;

      for (size_t k = 0; k < sizeof ids / sizeof ids[0]; k++)
        {
          size_t cap = confab_relay_stamped_size (&c, size, ids[k]);
          uint8_t *out = malloc (cap + 1);
          size_t len = confab_relay_stamp (&c, data, size, ids[k], out);
          ConfabPacketWrapper *again;

          if (len > cap)
            abort ();
          again = confab__packet_wrapper__unpack (NULL, len, out);
          if (again == NULL || again->session_id != ids[k] || (int) again->packet_type != type ||
              again->data.len != data_len)
            abort ();
          confab__packet_wrapper__free_unpacked (again, NULL);
          free (out);
          /* Stamping may have written the id into the wrapper: undo. */
          c.wrapper->session_id = original;
        }
    }
  return 0;
}
