/* confab-video-encoder-x264.c: H.264 with x264 for calls: the zerolatency tune
 * (no lookahead, no B-frames, sliced threads, so a frame comes out as soon as
 * it goes in), CBR through a one-second VBV, IDR every ~5 s and on request,
 * Annex B with SPS/PPS before every IDR so a receiver can start at any key. */
#define G_LOG_DOMAIN "confab-video-encoder-x264"

#include "confab-video-encoder-private.h"

#include <stdint.h>
#include <x264.h>

#define KEYFRAME_INTERVAL_S 5

struct _ConfabX264Encoder
{
  x264_t *x264;
  x264_param_t param;
  x264_picture_t picture;
  int width;
  int height;
  int64_t next_pts;
};

static void
apply_bitrate (x264_param_t *param, guint bitrate_kbps)
{
  param->rc.i_rc_method = X264_RC_ABR;
  param->rc.i_bitrate = (int) bitrate_kbps;
  /* A VBV of one second at the target rate makes ABR behave as CBR, so a
   * quality tier's bitrate is a ceiling the network can rely on. */
  param->rc.i_vbv_max_bitrate = (int) bitrate_kbps;
  param->rc.i_vbv_buffer_size = (int) bitrate_kbps;
}

ConfabX264Encoder *
confab_x264_encoder_new (
    int width, int height, int fps, guint bitrate_kbps, int threads, GError **error)
{
  ConfabX264Encoder *x264 = g_new0 (ConfabX264Encoder, 1);
  /* veryfast encodes 720p at ~140 fps on one core here (PLATFORM.md) and
   * compresses clearly better than ultrafast; above 720p the cheaper preset
   * keeps 1080p screen shares realtime. */
  const char *preset = (gint64) width * height > 1280 * 720 ? "ultrafast" : "veryfast";

  if (x264_param_default_preset (&x264->param, preset, "zerolatency") < 0)
    {
      g_set_error (error, CONFAB_MEDIA_ERROR, CONFAB_MEDIA_ERROR_INIT,
                   "x264 does not know the %s/zerolatency preset", preset);
      g_free (x264);
      return NULL;
    }
  if (threads <= 0)
    threads = width >= 640 ? 2 : 1;

  x264->width = width;
  x264->height = height;
  x264->param.i_log_level = X264_LOG_ERROR;
  x264->param.i_csp = X264_CSP_I420;
  x264->param.i_width = width;
  x264->param.i_height = height;
  x264->param.i_fps_num = (uint32_t) fps;
  x264->param.i_fps_den = 1;
  x264->param.i_timebase_num = 1;
  x264->param.i_timebase_den = (uint32_t) fps;
  x264->param.i_threads = threads;
  x264->param.b_sliced_threads = 1;
  x264->param.i_keyint_max = fps * KEYFRAME_INTERVAL_S;
  x264->param.i_keyint_min = 1;
  /* Key frames only when the clock or a receiver asks: a scene-cut IDR is a
   * bitrate spike that a call pays for in latency. */
  x264->param.i_scenecut_threshold = 0;
  x264->param.b_repeat_headers = 1;
  x264->param.b_annexb = 1;
  apply_bitrate (&x264->param, bitrate_kbps);
  /* Constrained baseline would cost ~15 % bitrate (no CABAC); every Confab
   * receiver decodes with FFmpeg, which takes any profile. */
  if (x264_param_apply_profile (&x264->param, "high") < 0)
    {
      g_set_error (error, CONFAB_MEDIA_ERROR, CONFAB_MEDIA_ERROR_INIT,
                   "x264 refused the high profile");
      g_free (x264);
      return NULL;
    }

  x264->x264 = x264_encoder_open (&x264->param);
  if (x264->x264 == NULL)
    {
      g_set_error (error, CONFAB_MEDIA_ERROR, CONFAB_MEDIA_ERROR_INIT,
                   "x264 cannot start a %dx%d@%d encoder", width, height, fps);
      g_free (x264);
      return NULL;
    }
  x264_picture_init (&x264->picture);
  x264->picture.img.i_csp = X264_CSP_I420;
  x264->picture.img.i_plane = 3;
  return x264;
}

void
confab_x264_encoder_free (ConfabX264Encoder *x264)
{
  if (x264 == NULL)
    return;
  x264_encoder_close (x264->x264);
  g_free (x264);
}

gboolean
confab_x264_encoder_set_bitrate (ConfabX264Encoder *x264, guint bitrate_kbps)
{
  if (bitrate_kbps == 0)
    return FALSE;
  apply_bitrate (&x264->param, bitrate_kbps);
  return x264_encoder_reconfig (x264->x264, &x264->param) == 0;
}

gboolean
confab_x264_encoder_encode (ConfabX264Encoder *x264,
                            const ConfabVideoFrame *frame,
                            gboolean force_key,
                            ConfabEncodedFrame *out,
                            GError **error)
{
  x264_nal_t *nals = NULL;
  int n_nals = 0;
  x264_picture_t picture_out;
  int size;

  g_return_val_if_fail (frame->width == x264->width && frame->height == x264->height, FALSE);

  /* x264 reads the planes where they are: no copy. */
  for (int i = 0; i < 3; i++)
    {
      x264->picture.img.plane[i] = frame->planes[i];
      x264->picture.img.i_stride[i] = frame->strides[i];
    }
  x264->picture.i_type = force_key ? X264_TYPE_IDR : X264_TYPE_AUTO;
  x264->picture.i_pts = x264->next_pts++;

  size = x264_encoder_encode (x264->x264, &nals, &n_nals, &x264->picture, &picture_out);
  if (size < 0)
    {
      g_set_error (error, CONFAB_MEDIA_ERROR, CONFAB_MEDIA_ERROR_ENCODE, "x264 encode failed");
      return FALSE;
    }

  out->pts_us = frame->pts_us;
  out->is_key = size > 0 && picture_out.b_keyframe;
  /* x264 lays a frame's NAL units out back to back in one buffer (valid until
   * the next call), so the access unit is one contiguous span. */
  out->data = size > 0 ? nals[0].p_payload : NULL;
  out->size = (gsize) size;
  return TRUE;
}
