/* confab-audio-decoder.c: libopus decoding with concealment. */
#define G_LOG_DOMAIN "confab-audio-decoder"

#include "confab-audio-decoder.h"

#include "confab-codec-cpu-private.h"

#include <opus.h>
#include <string.h>

struct _ConfabAudioDecoder
{
  OpusDecoder *opus;
  ConfabCodecCpu cpu;
};

ConfabAudioDecoder *
confab_audio_decoder_new (GError **error)
{
  g_autoptr (ConfabAudioDecoder) decoder = g_new0 (ConfabAudioDecoder, 1);
  int err = OPUS_OK;

  confab_codec_cpu_init (&decoder->cpu, CONFAB_CODEC_CPU_AUDIO_DECODE);
  decoder->opus = opus_decoder_create (CONFAB_AUDIO_SAMPLE_RATE, CONFAB_AUDIO_CHANNELS, &err);
  if (decoder->opus == NULL || err != OPUS_OK)
    {
      g_set_error (error, CONFAB_MEDIA_ERROR, CONFAB_MEDIA_ERROR_INIT,
                   "Cannot create an Opus decoder: %s", opus_strerror (err));
      return NULL;
    }
  return g_steal_pointer (&decoder);
}

void
confab_audio_decoder_free (ConfabAudioDecoder *decoder)
{
  if (decoder == NULL)
    return;
  if (decoder->opus != NULL)
    opus_decoder_destroy (decoder->opus);
  g_free (decoder);
}

gboolean
confab_audio_decoder_decode (
    ConfabAudioDecoder *decoder, const guint8 *packet, gsize len, gint16 *pcm, GError **error)
{
  gint64 begin;
  int samples;

  if (packet == NULL || len == 0 || len > CONFAB_AUDIO_MAX_PACKET)
    {
      g_set_error (error, CONFAB_MEDIA_ERROR, CONFAB_MEDIA_ERROR_DECODE,
                   "Opus packet of %" G_GSIZE_FORMAT " bytes", len);
      return FALSE;
    }
  /* Checked before decoding so a 40 ms packet cannot overrun a 20 ms buffer
   * and the decoder state stays untouched by packets we refuse. */
  samples = opus_packet_get_nb_samples (packet, (opus_int32) len, CONFAB_AUDIO_SAMPLE_RATE);
  if (samples != CONFAB_AUDIO_FRAME_SAMPLES)
    {
      g_set_error (error, CONFAB_MEDIA_ERROR, CONFAB_MEDIA_ERROR_DECODE,
                   "Opus packet is not 20 ms long (%s)",
                   samples < 0 ? opus_strerror (samples) : "other duration");
      return FALSE;
    }
  begin = confab_codec_cpu_begin ();
  samples =
      opus_decode (decoder->opus, packet, (opus_int32) len, pcm, CONFAB_AUDIO_FRAME_SAMPLES, 0);
  confab_codec_cpu_end (&decoder->cpu, begin);
  if (samples != CONFAB_AUDIO_FRAME_SAMPLES)
    {
      g_set_error (error, CONFAB_MEDIA_ERROR, CONFAB_MEDIA_ERROR_DECODE, "Opus decode failed: %s",
                   samples < 0 ? opus_strerror (samples) : "short frame");
      return FALSE;
    }
  return TRUE;
}

guint64
confab_audio_decoder_get_cpu_ns (ConfabAudioDecoder *decoder)
{
  return decoder->cpu.ns;
}

gboolean
confab_audio_packet_has_fec (const guint8 *packet, gsize len)
{
  const unsigned char *frames[48];
  opus_int16 sizes[48];
  unsigned char toc;
  int n_frames, per_frame, n_silk;

  if (packet == NULL || len < 2 || len > CONFAB_AUDIO_MAX_PACKET)
    return FALSE;
  /* TOC configurations 16-31 are CELT only: no SILK layer, no LBRR. */
  if ((packet[0] >> 3) >= 16)
    return FALSE;
  n_frames = opus_packet_parse (packet, (opus_int32) len, &toc, frames, sizes, NULL);
  if (n_frames < 1 || sizes[0] < 1)
    return FALSE;
  /* The SILK layer of the first Opus frame starts with one VAD flag per SILK
   * frame (20 ms each; a 10 ms Opus frame has one) and then the LBRR flag,
   * each coded at probability 1/2, so they are the leading bits of the frame
   * (RFC 6716 §4.2.3). */
  per_frame = opus_packet_get_samples_per_frame (packet, CONFAB_AUDIO_SAMPLE_RATE);
  n_silk = MAX (1, per_frame / CONFAB_AUDIO_FRAME_SAMPLES);
  return (frames[0][0] >> (7 - n_silk)) & 1;
}

ConfabAudioConcealment
confab_audio_decoder_conceal (ConfabAudioDecoder *decoder,
                              const guint8 *next,
                              gsize next_len,
                              gint16 *pcm)
{
  gint64 begin = confab_codec_cpu_begin ();
  ConfabAudioConcealment how = CONFAB_AUDIO_CONCEAL_FEC;

  if (!confab_audio_packet_has_fec (next, next_len) ||
      opus_decode (decoder->opus, next, (opus_int32) next_len, pcm, CONFAB_AUDIO_FRAME_SAMPLES,
                   1) != CONFAB_AUDIO_FRAME_SAMPLES)
    {
      how = CONFAB_AUDIO_CONCEAL_PLC;
      if (opus_decode (decoder->opus, NULL, 0, pcm, CONFAB_AUDIO_FRAME_SAMPLES, 0) !=
          CONFAB_AUDIO_FRAME_SAMPLES)
        memset (pcm, 0,
                CONFAB_AUDIO_FRAME_SAMPLES *
                    sizeof (gint16)); /* cannot happen; stay audible-safe */
    }
  confab_codec_cpu_end (&decoder->cpu, begin);
  return how;
}
