/* test-media.c: the encoders produce what real decoders read back: libvpx
 * VP9/VP8 round trips with a PSNR floor, key frames on request, Opus round
 * trips that still carry the tone. Run with `-m perf` for encode speeds. */
#define G_LOG_DOMAIN "test-media"

#include "confab-audio-encoder.h"
#include "confab-test-source.h"
#include "confab-video-encoder.h"

#include <math.h>
#include <opus.h>
#include <vpx/vp8dx.h>
#include <vpx/vpx_decoder.h>

typedef struct
{
  vpx_codec_ctx_t ctx;
} Decoder;

static void
decoder_init (Decoder *decoder, ConfabVideoCodec codec)
{
  vpx_codec_dec_cfg_t cfg = { .threads = 1 };
  vpx_codec_iface_t *iface =
      codec == CONFAB_VIDEO_CODEC_VP8 ? vpx_codec_vp8_dx () : vpx_codec_vp9_dx ();

  g_assert_cmpint (vpx_codec_dec_init (&decoder->ctx, iface, &cfg, 0), ==, VPX_CODEC_OK);
}

/* Decodes one frame; returns it wrapped (valid until the next decode). */
static ConfabVideoFrame *
decoder_decode (Decoder *decoder, const ConfabEncodedFrame *encoded)
{
  vpx_codec_iter_t iter = NULL;
  vpx_image_t *image;
  guint8 *planes[3];
  int strides[3];

  g_assert_cmpint (vpx_codec_decode (&decoder->ctx, encoded->data, encoded->size, NULL, 0), ==,
                   VPX_CODEC_OK);
  image = vpx_codec_get_frame (&decoder->ctx, &iter);
  g_assert_nonnull (image);
  g_assert_cmpint (image->fmt, ==, VPX_IMG_FMT_I420);
  for (int i = 0; i < 3; i++)
    {
      planes[i] = image->planes[i];
      strides[i] = image->stride[i];
    }
  return confab_video_frame_new_wrapped (CONFAB_PIXEL_FORMAT_I420, image->d_w, image->d_h, planes,
                                         strides, NULL, NULL);
}

static void
round_trip (ConfabVideoCodec codec, int width, int height)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (ConfabVideoEncoder) encoder = NULL;
  g_autoptr (ConfabTestPattern) pattern = confab_test_pattern_new (width, height);
  Decoder decoder;
  double psnr_sum = 0, psnr_min = 100;
  guint n_frames = 60, n_keys = 0;
  gsize bytes = 0;

  encoder = confab_video_encoder_new (codec, width, height, 30, 0, 0, &error);
  g_assert_no_error (error);
  decoder_init (&decoder, codec);

  for (guint i = 0; i < n_frames; i++)
    {
      g_autoptr (ConfabVideoFrame) source = confab_test_pattern_next (pattern, i, i * 33333);
      g_autoptr (ConfabVideoFrame) decoded = NULL;
      ConfabEncodedFrame encoded;
      double psnr;

      g_assert_true (confab_video_encoder_encode (encoder, source, &encoded, &error));
      g_assert_no_error (error);
      g_assert_cmpuint (encoded.size, >, 0);
      g_assert_true (encoded.is_key == (i == 0));
      n_keys += encoded.is_key;
      bytes += encoded.size;

      decoded = decoder_decode (&decoder, &encoded);
      g_assert_cmpint (decoded->width, ==, width);
      g_assert_cmpint (decoded->height, ==, height);
      psnr = confab_video_frame_psnr_y (source, decoded);
      psnr_sum += psnr;
      psnr_min = MIN (psnr_min, psnr);
    }
  vpx_codec_destroy (&decoder.ctx);

  g_test_message ("%s %dx%d: mean PSNR %.1f dB, min %.1f dB, %.0f kbps",
                  confab_video_codec_to_string (codec), width, height, psnr_sum / n_frames,
                  psnr_min, bytes * 8.0 * 30 / n_frames / 1000);
  g_assert_cmpuint (n_keys, ==, 1);
  g_assert_cmpfloat (psnr_sum / n_frames, >=, 30.0);
  g_assert_cmpfloat (psnr_min, >=, 25.0);
}

static void
test_vp9_round_trip (void)
{
  round_trip (CONFAB_VIDEO_CODEC_VP9, 640, 360);
}

static void
test_vp8_round_trip (void)
{
  round_trip (CONFAB_VIDEO_CODEC_VP8, 640, 360);
}

static void
test_odd_size_round_trip (void)
{
  /* Not a multiple of 16 or 32: strides and edges must still line up. */
  round_trip (CONFAB_VIDEO_CODEC_VP9, 426, 240);
}

static void
keyframes (ConfabVideoCodec codec)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (ConfabVideoEncoder) encoder = NULL;
  g_autoptr (ConfabTestPattern) pattern = confab_test_pattern_new (320, 180);
  Decoder decoder;
  int fps = 10;
  int last_key = -1;

  encoder = confab_video_encoder_new (codec, 320, 180, fps, 0, 0, &error);
  g_assert_no_error (error);
  decoder_init (&decoder, codec);

  for (int i = 0; i < 6 * fps; i++)
    {
      g_autoptr (ConfabVideoFrame) source = confab_test_pattern_next (pattern, i, i * 100000);
      g_autoptr (ConfabVideoFrame) decoded = NULL;
      ConfabEncodedFrame encoded;

      if (i == 7)
        confab_video_encoder_request_keyframe (encoder);
      g_assert_true (confab_video_encoder_encode (encoder, source, &encoded, &error));
      g_assert_cmpuint (encoded.size, >, 0);
      if (i == 0 || i == 7)
        g_assert_true (encoded.is_key);
      else if (i < 7 + 3 * fps)
        g_assert_false (encoded.is_key); /* no key frames nobody asked for */
      if (encoded.is_key)
        {
          /* At most ~5 s between key frames (kf_max_dist). */
          g_assert_cmpint (i - last_key, <=, 5 * fps);
          last_key = i;
        }
      decoded = decoder_decode (&decoder, &encoded);
    }
  /* A periodic key frame arrived by itself within 5 s of the requested one. */
  g_assert_cmpint (last_key, >, 7);
  g_assert_cmpint (6 * fps - 1 - last_key, <, 5 * fps);
  vpx_codec_destroy (&decoder.ctx);
}

static void
test_vp9_keyframe_on_request (void)
{
  keyframes (CONFAB_VIDEO_CODEC_VP9);
}

static void
test_vp8_keyframe_on_request (void)
{
  keyframes (CONFAB_VIDEO_CODEC_VP8);
}

static void
test_key_decodes_alone (void)
{
  /* A receiver joining late starts from a requested key frame: it must decode
   * with no earlier frames, which is what keyframe requests rely on. */
  g_autoptr (GError) error = NULL;
  g_autoptr (ConfabVideoEncoder) encoder = NULL;
  g_autoptr (ConfabTestPattern) pattern = confab_test_pattern_new (640, 360);
  Decoder late;

  encoder = confab_video_encoder_new (CONFAB_VIDEO_CODEC_VP9, 640, 360, 30, 0, 0, &error);
  g_assert_no_error (error);
  decoder_init (&late, CONFAB_VIDEO_CODEC_VP9);
  for (int i = 0; i < 20; i++)
    {
      g_autoptr (ConfabVideoFrame) source = confab_test_pattern_next (pattern, i, i * 33333);
      ConfabEncodedFrame encoded;

      if (i == 15)
        confab_video_encoder_request_keyframe (encoder);
      g_assert_true (confab_video_encoder_encode (encoder, source, &encoded, &error));
      if (i >= 15)
        {
          g_autoptr (ConfabVideoFrame) decoded = decoder_decode (&late, &encoded);
          g_assert_cmpfloat (confab_video_frame_psnr_y (source, decoded), >=, 25.0);
        }
    }
  vpx_codec_destroy (&late.ctx);
}

static void
test_bad_sizes (void)
{
  g_autoptr (GError) error = NULL;
  ConfabVideoEncoder *encoder;

  encoder = confab_video_encoder_new (CONFAB_VIDEO_CODEC_VP9, 641, 360, 30, 0, 0, &error);
  g_assert_null (encoder);
  g_assert_error (error, CONFAB_MEDIA_ERROR, CONFAB_MEDIA_ERROR_INVALID);
  g_clear_error (&error);
  encoder = confab_video_encoder_new (CONFAB_VIDEO_CODEC_VP8, 640, 360, 0, 0, 0, &error);
  g_assert_null (encoder);
  g_assert_error (error, CONFAB_MEDIA_ERROR, CONFAB_MEDIA_ERROR_INVALID);
}

static void
test_pattern_moves (void)
{
  g_autoptr (ConfabTestPattern) pattern = confab_test_pattern_new (640, 360);
  g_autoptr (ConfabTestPattern) other = confab_test_pattern_new (640, 360);
  g_autoptr (ConfabVideoFrame) a = confab_test_pattern_next (pattern, 0, 0);
  g_autoptr (ConfabVideoFrame) copy = confab_test_pattern_next (other, 0, 0);
  g_autoptr (ConfabVideoFrame) b = NULL;

  /* a is still held, so the next frame must not overwrite it. */
  b = confab_test_pattern_next (pattern, 1, 33333);
  g_assert_true (a != b);
  g_assert_cmpfloat (confab_video_frame_psnr_y (a, copy), ==, 99.0);
  g_assert_cmpfloat (confab_video_frame_psnr_y (a, b), <, 35.0);
  /* The counter cell for bit 0 (frame 1) is white, for frame 0 black. */
  g_assert_cmpint (b->planes[0][15 * 16 + 4], ==, 235);
  g_assert_cmpint (a->planes[0][15 * 16 + 4], ==, 16);
}

/* Painting over its own previous picture (only what moved) gives exactly the
 * picture a fresh buffer gets, for every frame, at sizes where the band, the
 * counter and the bars overlap differently. */
static void
test_pattern_incremental (void)
{
  static const int sizes[][2] = { { 640, 360 }, { 1280, 720 }, { 322, 242 }, { 18, 18 } };

  for (guint s = 0; s < G_N_ELEMENTS (sizes); s++)
    {
      int w = sizes[s][0], h = sizes[s][1];
      g_autoptr (ConfabTestPattern) reused = confab_test_pattern_new (w, h);
      g_autoptr (ConfabTestPattern) fresh = confab_test_pattern_new (w, h);
      g_autoptr (ConfabVideoFrame) held = NULL;
      ConfabVideoFrame *previous = NULL;
      guint64 n = 0;

      for (int i = 0; i < 400; i++)
        {
          g_autoptr (ConfabVideoFrame) a = NULL;
          g_autoptr (ConfabVideoFrame) b = NULL;

          /* Mostly consecutive, sometimes a jump (a source that skipped). */
          n += i % 97 == 96 ? 37 : 1;
          a = confab_test_pattern_next (reused, n, 0);
          /* Holding the last picture makes the other pattern paint a new buffer. */
          b = confab_test_pattern_next (fresh, n, 0);
          g_clear_pointer (&held, confab_video_frame_unref);
          held = confab_video_frame_ref (b);
          if (w >= 640)
            g_assert_true (a == previous || previous == NULL); /* really reused */
          g_assert_true (b != previous);
          previous = a;
          for (int p = 0; p < 3; p++)
            {
              int pw = p == 0 ? w : (w + 1) / 2, ph = p == 0 ? h : (h + 1) / 2;

              for (int y = 0; y < ph; y++)
                if (memcmp (a->planes[p] + (gsize) y * a->strides[p],
                            b->planes[p] + (gsize) y * b->strides[p], pw) != 0)
                  g_error ("%dx%d frame %" G_GUINT64_FORMAT ": plane %d row %d differs", w, h, n, p,
                           y);
            }
        }
    }
}

static void
test_opus_round_trip (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (ConfabAudioEncoder) encoder = confab_audio_encoder_new (0, &error);
  g_autoptr (ConfabToneSource) tone = confab_tone_source_new (440, 48000, 0.3);
  OpusDecoder *decoder;
  int err = 0;
  gint16 in[CONFAB_AUDIO_FRAME_SAMPLES];
  gint16 out[5760];
  guint8 packet[CONFAB_AUDIO_MAX_PACKET];
  guint crossings = 0;
  gint16 previous = 0;
  double energy = 0;
  int n_packets = 50; /* 1 s */

  g_assert_no_error (error);
  decoder = opus_decoder_create (48000, 1, &err);
  g_assert_cmpint (err, ==, OPUS_OK);

  for (int i = 0; i < n_packets; i++)
    {
      gssize len;
      int samples;

      confab_tone_source_fill (tone, in, G_N_ELEMENTS (in));
      len = confab_audio_encoder_encode (encoder, in, packet, sizeof packet, &error);
      g_assert_no_error (error);
      g_assert_cmpint (len, >, 0);
      g_assert_cmpint (len, <=, 1275);
      g_assert_cmpint (opus_packet_get_nb_samples (packet, len, 48000), ==, 960);
      samples = opus_decode (decoder, packet, len, out, G_N_ELEMENTS (out), 0);
      g_assert_cmpint (samples, ==, 960);
      /* Skip the codec's start-up; then count zero crossings and power. */
      if (i < 5)
        continue;
      for (int s = 0; s < samples; s++)
        {
          if ((previous < 0) != (out[s] < 0))
            crossings++;
          previous = out[s];
          energy += (double) out[s] * out[s];
        }
    }
  opus_decoder_destroy (decoder);

  /* 440 Hz crosses zero 880 times a second; 45 packets are 0.9 s. */
  g_assert_cmpuint (crossings, >=, 792 * 0.95);
  g_assert_cmpuint (crossings, <=, 792 * 1.05);
  /* RMS of a 0.3 sine is 0.212 of full scale: the tone survived. */
  g_assert_cmpfloat (sqrt (energy / (45 * 960)) / 32767, >, 0.15);
}

static void
measure_speed (ConfabVideoCodec codec, int width, int height)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (ConfabVideoEncoder) encoder = NULL;
  g_autoptr (ConfabTestPattern) pattern = confab_test_pattern_new (width, height);
  int n = 300;
  gint64 t0;
  double seconds;

  encoder = confab_video_encoder_new (codec, width, height, 30, 0, 0, &error);
  g_assert_no_error (error);
  t0 = g_get_monotonic_time ();
  for (int i = 0; i < n; i++)
    {
      g_autoptr (ConfabVideoFrame) frame = confab_test_pattern_next (pattern, i, i * 33333);
      ConfabEncodedFrame encoded;
      g_assert_true (confab_video_encoder_encode (encoder, frame, &encoded, &error));
    }
  seconds = (g_get_monotonic_time () - t0) / 1e6;
  g_test_minimized_result (seconds / n,
                           "%s %dx%d: %.0f fps (default threads, pattern generation included)",
                           confab_video_codec_to_string (codec), width, height, n / seconds);
}

static void
test_speed (void)
{
  measure_speed (CONFAB_VIDEO_CODEC_VP9, 640, 360);
  measure_speed (CONFAB_VIDEO_CODEC_VP9, 1280, 720);
  measure_speed (CONFAB_VIDEO_CODEC_VP8, 640, 360);
  measure_speed (CONFAB_VIDEO_CODEC_VP8, 1280, 720);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/media/vp9/round-trip", test_vp9_round_trip);
  g_test_add_func ("/media/vp8/round-trip", test_vp8_round_trip);
  g_test_add_func ("/media/vp9/odd-size-round-trip", test_odd_size_round_trip);
  g_test_add_func ("/media/vp9/keyframe-on-request", test_vp9_keyframe_on_request);
  g_test_add_func ("/media/vp8/keyframe-on-request", test_vp8_keyframe_on_request);
  g_test_add_func ("/media/vp9/key-decodes-alone", test_key_decodes_alone);
  g_test_add_func ("/media/encoder/bad-sizes", test_bad_sizes);
  g_test_add_func ("/media/pattern/moves", test_pattern_moves);
  g_test_add_func ("/media/pattern/incremental", test_pattern_incremental);
  g_test_add_func ("/media/opus/round-trip", test_opus_round_trip);
  if (g_test_perf ())
    g_test_add_func ("/media/speed", test_speed);
  return g_test_run ();
}
