/* confab-audio-decoder.h: one peer's Opus stream back to 20 ms frames of
 * 48 kHz mono samples, with loss concealment: in-band FEC carried by the next
 * packet when there is one, else packet loss concealment (PLC). */
#pragma once

#include "confab-audio-encoder.h"

G_BEGIN_DECLS

typedef enum
{
  CONFAB_AUDIO_CONCEAL_FEC, /* rebuilt from the next packet's in-band redundancy */
  CONFAB_AUDIO_CONCEAL_PLC, /* extrapolated from what came before */
} ConfabAudioConcealment;

typedef struct _ConfabAudioDecoder ConfabAudioDecoder;

ConfabAudioDecoder *confab_audio_decoder_new (GError **error);
void confab_audio_decoder_free (ConfabAudioDecoder *decoder);

/* Decodes one 20 ms packet into exactly CONFAB_AUDIO_FRAME_SAMPLES samples.
 * FALSE with CONFAB_MEDIA_ERROR_DECODE for a corrupt packet or one that is not
 * 20 ms long (PROTOCOL.md §5); @pcm is then left untouched. */
gboolean confab_audio_decoder_decode (
    ConfabAudioDecoder *decoder, const guint8 *packet, gsize len, gint16 *pcm, GError **error);

/* Fills @pcm with CONFAB_AUDIO_FRAME_SAMPLES samples standing in for a lost
 * packet. @next (may be NULL) is the packet that followed the lost one: when
 * it carries in-band FEC the lost frame is rebuilt from it (decode @next
 * itself afterwards as usual). Returns which method was used. */
ConfabAudioConcealment confab_audio_decoder_conceal (ConfabAudioDecoder *decoder,
                                                     const guint8 *next,
                                                     gsize next_len,
                                                     gint16 *pcm);

/* CPU time spent inside decode and conceal calls so far (the process's
 * total: confab-codec-cpu.h). */
guint64 confab_audio_decoder_get_cpu_ns (ConfabAudioDecoder *decoder);

/* TRUE when @packet carries in-band FEC (LBRR) data for the packet before it. */
gboolean confab_audio_packet_has_fec (const guint8 *packet, gsize len);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ConfabAudioDecoder, confab_audio_decoder_free)

G_END_DECLS
