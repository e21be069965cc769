/* confab-audio-encoder.c: a thin libopus wrapper with call settings. */
#define G_LOG_DOMAIN "confab-audio-encoder"

#include "confab-audio-encoder.h"

#include "confab-codec-cpu-private.h"

#include <opus.h>

struct _ConfabAudioEncoder
{
  OpusEncoder *opus;
  ConfabCodecCpu cpu;
};

ConfabAudioEncoder *
confab_audio_encoder_new (int bitrate_bps, GError **error)
{
  g_autoptr (ConfabAudioEncoder) encoder = g_new0 (ConfabAudioEncoder, 1);
  int err = OPUS_OK;

  confab_codec_cpu_init (&encoder->cpu, CONFAB_CODEC_CPU_AUDIO_ENCODE);
  encoder->opus = opus_encoder_create (CONFAB_AUDIO_SAMPLE_RATE, CONFAB_AUDIO_CHANNELS,
                                       OPUS_APPLICATION_VOIP, &err);
  if (encoder->opus == NULL || err != OPUS_OK)
    {
      g_set_error (error, CONFAB_MEDIA_ERROR, CONFAB_MEDIA_ERROR_INIT,
                   "Cannot create an Opus encoder: %s", opus_strerror (err));
      return NULL;
    }
  opus_encoder_ctl (encoder->opus, OPUS_SET_BITRATE (bitrate_bps > 0 ? bitrate_bps : 32000));
  /* Complexity 5 is ~2x cheaper than 10 (PLATFORM.md) and plenty for speech. */
  opus_encoder_ctl (encoder->opus, OPUS_SET_COMPLEXITY (5));
  opus_encoder_ctl (encoder->opus, OPUS_SET_SIGNAL (OPUS_SIGNAL_VOICE));
  /* FEC lives in the SILK layer (LBRR): each packet also carries a coarse copy
   * of the one before, which a receiver uses when that one is lost. */
  opus_encoder_ctl (encoder->opus, OPUS_SET_INBAND_FEC (1));
  opus_encoder_ctl (encoder->opus, OPUS_SET_PACKET_LOSS_PERC (CONFAB_AUDIO_DEFAULT_LOSS_PERCENT));
  opus_encoder_ctl (encoder->opus, OPUS_SET_DTX (1));
  return g_steal_pointer (&encoder);
}

void
confab_audio_encoder_set_expected_loss (ConfabAudioEncoder *encoder, int percent)
{
  opus_encoder_ctl (encoder->opus, OPUS_SET_PACKET_LOSS_PERC (CLAMP (percent, 0, 100)));
}

guint64
confab_audio_encoder_get_cpu_ns (ConfabAudioEncoder *encoder)
{
  return encoder->cpu.ns;
}

void
confab_audio_encoder_free (ConfabAudioEncoder *encoder)
{
  if (encoder == NULL)
    return;
  if (encoder->opus != NULL)
    opus_encoder_destroy (encoder->opus);
  g_free (encoder);
}

gssize
confab_audio_encoder_encode (ConfabAudioEncoder *encoder,
                             const gint16 *samples,
                             guint8 *packet,
                             gsize packet_size,
                             GError **error)
{
  gint64 begin = confab_codec_cpu_begin ();
  opus_int32 len = opus_encode (encoder->opus, samples, CONFAB_AUDIO_FRAME_SAMPLES, packet,
                                (opus_int32) MIN (packet_size, (gsize) G_MAXINT32));

  confab_codec_cpu_end (&encoder->cpu, begin);

  if (len < 0)
    {
      g_set_error (error, CONFAB_MEDIA_ERROR, CONFAB_MEDIA_ERROR_ENCODE, "Opus encode failed: %s",
                   opus_strerror (len));
      return -1;
    }
  return len;
}
