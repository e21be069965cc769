/* confab-video-encoder-private.h: the H.264 back end that ConfabVideoEncoder
 * dispatches to; kept apart so x264's headers stay out of the public API. */
#pragma once

#include "confab-video-encoder.h"

G_BEGIN_DECLS

typedef struct _ConfabX264Encoder ConfabX264Encoder;

ConfabX264Encoder *confab_x264_encoder_new (
    int width, int height, int fps, guint bitrate_kbps, int threads, GError **error);
void confab_x264_encoder_free (ConfabX264Encoder *x264);
gboolean confab_x264_encoder_set_bitrate (ConfabX264Encoder *x264, guint bitrate_kbps);
gboolean confab_x264_encoder_encode (ConfabX264Encoder *x264,
                                     const ConfabVideoFrame *frame,
                                     gboolean force_key,
                                     ConfabEncodedFrame *out,
                                     GError **error);

G_END_DECLS
