/* confab-video-decoder.h: one peer's video stream from whole encoded frames to
 * refcounted I420 ConfabVideoFrames: VP8/VP9 with libvpx, H.264 with FFmpeg. */
#pragma once

#include "confab-video-encoder.h"
#include "confab-video-frame.h"

G_BEGIN_DECLS

typedef struct _ConfabVideoDecoder ConfabVideoDecoder;

/* @threads 0 picks one (low latency on a 2-core machine that also encodes). */
ConfabVideoDecoder *confab_video_decoder_new (ConfabVideoCodec codec, int threads, GError **error);
void confab_video_decoder_free (ConfabVideoDecoder *decoder);

ConfabVideoCodec confab_video_decoder_get_codec (ConfabVideoDecoder *decoder);

/* Decodes one whole encoded frame (one MediaPacket's data). On success *out is
 * a new reference to the picture (pts_us = @pts_us); the frame stays valid
 * after later decodes and after the decoder is freed, and may be handed to
 * another thread. TRUE with *out NULL when a valid VP8/VP9 frame shows no
 * picture (a hidden reference frame). Returns FALSE with
 * CONFAB_MEDIA_ERROR_DECODE when the frame is corrupt, truncated or needs a
 * reference the decoder lacks (for H.264 also when it yields no picture, which
 * is how FFmpeg reports a frame it had to discard): the caller should then
 * wait for a key frame (and ask for one). */
gboolean confab_video_decoder_decode (ConfabVideoDecoder *decoder,
                                      const guint8 *data,
                                      gsize size,
                                      gint64 pts_us,
                                      ConfabVideoFrame **out,
                                      GError **error);

guint64 confab_video_decoder_get_frames_decoded (ConfabVideoDecoder *decoder);
guint64 confab_video_decoder_get_errors (ConfabVideoDecoder *decoder);
/* CPU time spent inside confab_video_decoder_decode() so far, the codec
 * library's worker threads included (process totals: confab-codec-cpu.h). */
guint64 confab_video_decoder_get_cpu_ns (ConfabVideoDecoder *decoder);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ConfabVideoDecoder, confab_video_decoder_free)

G_END_DECLS
