/* confab-audio-encoder.h: Opus as calls send it (PROTOCOL.md §5): 48 kHz
 * mono, 20 ms frames of 960 samples, raw packets, VOIP application. */
#pragma once

#include "confab-video-encoder.h"

G_BEGIN_DECLS

#define CONFAB_AUDIO_SAMPLE_RATE   48000
#define CONFAB_AUDIO_CHANNELS      1
#define CONFAB_AUDIO_FRAME_SAMPLES 960 /* 20 ms */
#define CONFAB_AUDIO_MAX_PACKET    1500

typedef struct _ConfabAudioEncoder ConfabAudioEncoder;

/* Expected loss until told otherwise: in-band FEC is sized for it. */
#define CONFAB_AUDIO_DEFAULT_LOSS_PERCENT 10

/* @bitrate_bps 0 picks 32 kbps. In-band FEC and DTX are on: a silent
 * stretch becomes 1-3 byte packets, still one per 20 ms so sequences stay
 * continuous. */
ConfabAudioEncoder *confab_audio_encoder_new (int bitrate_bps, GError **error);
void confab_audio_encoder_free (ConfabAudioEncoder *encoder);

/* The loss receivers report (0-100 %): more loss, more FEC redundancy. */
void confab_audio_encoder_set_expected_loss (ConfabAudioEncoder *encoder, int percent);

/* Encodes exactly CONFAB_AUDIO_FRAME_SAMPLES samples into @packet (at least
 * CONFAB_AUDIO_MAX_PACKET bytes). Returns the packet length, or -1 with @error. */
gssize confab_audio_encoder_encode (ConfabAudioEncoder *encoder,
                                    const gint16 *samples,
                                    guint8 *packet,
                                    gsize packet_size,
                                    GError **error);

/* CPU time spent inside confab_audio_encoder_encode() so far. */
guint64 confab_audio_encoder_get_cpu_ns (ConfabAudioEncoder *encoder);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ConfabAudioEncoder, confab_audio_encoder_free)

G_END_DECLS
