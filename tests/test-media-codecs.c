/* test-media-codecs.c: ConfabVideoDecoder and ConfabAudioDecoder against the
 * real encoders: VP8/VP9/H.264 round trips with a PSNR floor, pictures that
 * outlive the decoder, broken input that is reported and never crashes, and
 * Opus loss concealment (FEC from the next packet, else PLC). Run with
 * `-m perf` for decode and H.264 encode speeds. */
#define G_LOG_DOMAIN "test-media-codecs"

#include "confab-audio-decoder.h"
#include "confab-audio-encoder.h"
#include "confab-test-source.h"
#include "confab-video-decoder.h"
#include "confab-video-encoder.h"

#include <math.h>
#include <string.h>

/* Encoded frames kept after the encoder reuses its buffer. */
static ConfabVideoFrame *noisy_picture (ConfabTestPattern *pattern, guint64 number);

/* Speed runs switch to noisy pictures for camera-like decode work. */
static gboolean encode_noisy;

static GPtrArray *
encode_frames (ConfabVideoCodec codec, int width, int height, guint n, GPtrArray **sources)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (ConfabVideoEncoder) encoder = NULL;
  g_autoptr (ConfabTestPattern) pattern = confab_test_pattern_new (width, height);
  GPtrArray *frames = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);

  encoder = confab_video_encoder_new (codec, width, height, 30, 0, 0, &error);
  g_assert_no_error (error);
  if (sources != NULL)
    *sources = g_ptr_array_new_with_free_func ((GDestroyNotify) confab_video_frame_unref);
  for (guint i = 0; i < n; i++)
    {
      g_autoptr (ConfabVideoFrame) source = encode_noisy
                                                ? noisy_picture (pattern, i)
                                                : confab_test_pattern_next (pattern, i, i * 33333);
      ConfabEncodedFrame encoded;

      g_assert_true (confab_video_encoder_encode (encoder, source, &encoded, &error));
      g_assert_no_error (error);
      g_assert_cmpuint (encoded.size, >, 0);
      g_assert_true (encoded.is_key == (i == 0));
      g_ptr_array_add (frames, g_bytes_new (encoded.data, encoded.size));
      if (sources != NULL)
        g_ptr_array_add (*sources, confab_video_frame_ref (source));
    }
  return frames;
}

static void
round_trip (ConfabVideoCodec codec, int width, int height)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) sources = NULL;
  g_autoptr (GPtrArray) encoded = NULL;
  g_autoptr (GPtrArray) decoded =
      g_ptr_array_new_with_free_func ((GDestroyNotify) confab_video_frame_unref);
  ConfabVideoDecoder *decoder;
  double psnr_sum = 0, psnr_min = 100;
  gsize bytes = 0;
  guint n = 60;

  encoded = encode_frames (codec, width, height, n, &sources);
  decoder = confab_video_decoder_new (codec, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpint (confab_video_decoder_get_codec (decoder), ==, codec);

  for (guint i = 0; i < n; i++)
    {
      ConfabVideoFrame *frame = NULL;
      gsize size;
      const guint8 *data = g_bytes_get_data (g_ptr_array_index (encoded, i), &size);

      g_assert_true (confab_video_decoder_decode (decoder, data, size, i * 33333, &frame, &error));
      g_assert_no_error (error);
      g_assert_nonnull (frame);
      g_assert_cmpint (frame->format, ==, CONFAB_PIXEL_FORMAT_I420);
      g_assert_cmpint (frame->width, ==, width);
      g_assert_cmpint (frame->height, ==, height);
      g_assert_cmpint (frame->pts_us, ==, i * 33333);
      /* VP9 and H.264 pictures are the decoder's memory, lent out (not
       * writable); VP8's are our own copy. */
      g_assert_true (confab_video_frame_is_writable (frame) == (codec == CONFAB_VIDEO_CODEC_VP8));
      bytes += size;
      /* Keep every picture: later decodes must not overwrite held ones. */
      g_ptr_array_add (decoded, frame);
    }
  g_assert_cmpuint (confab_video_decoder_get_frames_decoded (decoder), ==, n);
  g_assert_cmpuint (confab_video_decoder_get_errors (decoder), ==, 0);
  /* Pictures outlive their decoder (a renderer may still show one). */
  confab_video_decoder_free (decoder);

  for (guint i = 0; i < n; i++)
    {
      double psnr = confab_video_frame_psnr_y (g_ptr_array_index (sources, i),
                                               g_ptr_array_index (decoded, i));
      psnr_sum += psnr;
      psnr_min = MIN (psnr_min, psnr);
    }
  g_test_message ("%s %dx%d: mean PSNR %.1f dB, min %.1f dB, %.0f kbps",
                  confab_video_codec_to_string (codec), width, height, psnr_sum / n, psnr_min,
                  bytes * 8.0 * 30 / n / 1000);
  g_assert_cmpfloat (psnr_sum / n, >=, 30.0);
  g_assert_cmpfloat (psnr_min, >=, 25.0);
}

static void
test_vp8_round_trip (void)
{
  round_trip (CONFAB_VIDEO_CODEC_VP8, 640, 360);
}

static void
test_vp9_round_trip (void)
{
  round_trip (CONFAB_VIDEO_CODEC_VP9, 640, 360);
}

static void
test_h264_round_trip (void)
{
  round_trip (CONFAB_VIDEO_CODEC_H264, 640, 360);
}

static void
test_odd_size_round_trip (void)
{
  /* 426x240: neither 16- nor 32-aligned; strides and chroma edges must agree. */
  round_trip (CONFAB_VIDEO_CODEC_H264, 426, 240);
  round_trip (CONFAB_VIDEO_CODEC_VP8, 426, 240);
  round_trip (CONFAB_VIDEO_CODEC_VP9, 426, 240);
}

/* A sender steps down a quality tier (PROTOCOL.md §5): a new encoder at the
 * new size starts with a key frame, and the same decoder follows it, down and
 * back up, with pictures of the old size still held by the renderer. */
static void
resolution_change (ConfabVideoCodec codec)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (ConfabVideoDecoder) decoder = confab_video_decoder_new (codec, 0, &error);
  g_autoptr (GPtrArray) held =
      g_ptr_array_new_with_free_func ((GDestroyNotify) confab_video_frame_unref);
  g_autoptr (GPtrArray) held_sources =
      g_ptr_array_new_with_free_func ((GDestroyNotify) confab_video_frame_unref);
  const int sizes[][2] = { { 640, 360 }, { 426, 240 }, { 1280, 720 }, { 640, 360 } };

  g_assert_no_error (error);
  for (guint s = 0; s < G_N_ELEMENTS (sizes); s++)
    {
      g_autoptr (GPtrArray) sources = NULL;
      g_autoptr (GPtrArray) encoded = encode_frames (codec, sizes[s][0], sizes[s][1], 10, &sources);

      for (guint i = 0; i < encoded->len; i++)
        {
          ConfabVideoFrame *frame = NULL;
          gsize size;
          const guint8 *data = g_bytes_get_data (g_ptr_array_index (encoded, i), &size);

          g_assert_true (confab_video_decoder_decode (decoder, data, size, 0, &frame, &error));
          g_assert_no_error (error);
          g_assert_cmpint (frame->width, ==, sizes[s][0]);
          g_assert_cmpint (frame->height, ==, sizes[s][1]);
          g_assert_cmpfloat (confab_video_frame_psnr_y (g_ptr_array_index (sources, i), frame), >=,
                             25.0);
          g_ptr_array_add (held, frame);
          g_ptr_array_add (held_sources, confab_video_frame_ref (g_ptr_array_index (sources, i)));
        }
    }
  /* Every held picture is still intact after the switches. */
  g_assert_cmpuint (held->len, ==, 40);
  for (guint i = 0; i < held->len; i++)
    g_assert_cmpfloat (confab_video_frame_psnr_y (g_ptr_array_index (held_sources, i),
                                                  g_ptr_array_index (held, i)),
                       >=, 25.0);
}

static void
test_resolution_change (void)
{
  resolution_change (CONFAB_VIDEO_CODEC_VP9);
  resolution_change (CONFAB_VIDEO_CODEC_VP8);
  resolution_change (CONFAB_VIDEO_CODEC_H264);
}

/* The renderer drops its pictures on its own thread while the decoder goes
 * on: buffers go back to the pool concurrently (run under valgrind/ASan). */
static gpointer
release_pictures (gpointer data)
{
  GAsyncQueue *queue = data;
  ConfabVideoFrame *frame;
  guint n = 0;

  while ((frame = g_async_queue_pop (queue)) != (gpointer) queue)
    {
      /* Read it as a renderer would. */
      volatile guint8 sample = frame->planes[0][frame->strides[0] * (frame->height / 2)];
      (void) sample;
      confab_video_frame_unref (frame);
      n++;
    }
  return GUINT_TO_POINTER (n);
}

static void
cross_thread_release (ConfabVideoCodec codec)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) encoded = encode_frames (codec, 320, 180, 30, NULL);
  g_autoptr (GAsyncQueue) queue = g_async_queue_new ();
  ConfabVideoDecoder *decoder = confab_video_decoder_new (codec, 0, &error);
  GThread *renderer = g_thread_new ("renderer", release_pictures, queue);
  guint sent = 0;

  g_assert_no_error (error);
  for (guint round = 0; round < 10; round++)
    for (guint i = 0; i < encoded->len; i++)
      {
        ConfabVideoFrame *frame = NULL;
        gsize size;
        const guint8 *data = g_bytes_get_data (g_ptr_array_index (encoded, i), &size);

        g_assert_true (confab_video_decoder_decode (decoder, data, size, 0, &frame, &error));
        g_async_queue_push (queue, frame);
        sent++;
      }
  /* The decoder may go before the last pictures do. */
  confab_video_decoder_free (decoder);
  g_async_queue_push (queue, queue);
  g_assert_cmpuint (GPOINTER_TO_UINT (g_thread_join (renderer)), ==, sent);
}

static void
test_cross_thread_release (void)
{
  cross_thread_release (CONFAB_VIDEO_CODEC_VP9);
  cross_thread_release (CONFAB_VIDEO_CODEC_H264);
  cross_thread_release (CONFAB_VIDEO_CODEC_VP8);
}

static void
test_h264_keyframes (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (ConfabVideoEncoder) encoder = NULL;
  g_autoptr (ConfabVideoDecoder) late = NULL;
  g_autoptr (ConfabTestPattern) pattern = confab_test_pattern_new (320, 180);
  int fps = 10, last_key = -1;
  ConfabVideoCodec parsed;

  g_assert_true (confab_video_codec_from_string ("h264", &parsed));
  g_assert_cmpint (parsed, ==, CONFAB_VIDEO_CODEC_H264);
  g_assert_cmpstr (confab_video_codec_to_string (parsed), ==, "h264");
  encoder = confab_video_encoder_new (CONFAB_VIDEO_CODEC_H264, 320, 180, fps, 0, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpint (confab_video_encoder_get_codec (encoder), ==, CONFAB_VIDEO_CODEC_H264);
  /* A receiver that starts at the requested key frame (as after a keyframe
   * request) decodes it alone: SPS/PPS travel with every IDR. */
  late = confab_video_decoder_new (CONFAB_VIDEO_CODEC_H264, 0, &error);
  g_assert_no_error (error);

  for (int i = 0; i < 6 * fps; i++)
    {
      g_autoptr (ConfabVideoFrame) source = confab_test_pattern_next (pattern, i, i * 100000);
      ConfabEncodedFrame encoded;

      if (i == 7)
        confab_video_encoder_request_keyframe (encoder);
      if (i == 20)
        g_assert_true (confab_video_encoder_set_bitrate (encoder, 100));
      g_assert_true (confab_video_encoder_encode (encoder, source, &encoded, &error));
      g_assert_cmpuint (encoded.size, >, 0);
      if (i == 0 || i == 7)
        g_assert_true (encoded.is_key);
      else if (i < 7 + 3 * fps)
        g_assert_false (encoded.is_key);
      if (encoded.is_key)
        {
          g_assert_cmpint (i - last_key, <=, 5 * fps);
          last_key = i;
        }
      if (i >= 7)
        {
          g_autoptr (ConfabVideoFrame) decoded = NULL;
          g_assert_true (
              confab_video_decoder_decode (late, encoded.data, encoded.size, 0, &decoded, &error));
          g_assert_no_error (error);
          g_assert_cmpfloat (confab_video_frame_psnr_y (source, decoded), >=, 25.0);
        }
    }
  /* A periodic IDR came by itself within 5 s of the requested one. */
  g_assert_cmpint (last_key, >, 7);
}

/* The test pattern with sensor-like noise on luma: the pattern alone is so
 * easy that encoders stay far below a generous target, and a rate test
 * needs content that takes whatever bitrate it is given. */
static ConfabVideoFrame *
noisy_picture (ConfabTestPattern *pattern, guint64 number)
{
  g_autoptr (ConfabVideoFrame) clean =
      confab_test_pattern_next (pattern, number, (gint64) number * 33333);
  ConfabVideoFrame *noisy = confab_video_frame_new (clean->width, clean->height);
  guint32 x = (guint32) number * 2654435761u | 1;

  noisy->pts_us = clean->pts_us;
  for (int y = 0; y < clean->height; y++)
    for (int i = 0; i < clean->width; i++)
      {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        noisy->planes[0][y * noisy->strides[0] + i] = (guint8) CLAMP (
            clean->planes[0][y * clean->strides[0] + i] + (int) (x % 25) - 12, 0, 255);
      }
  for (int p = 1; p < 3; p++)
    for (int y = 0; y < (clean->height + 1) / 2; y++)
      memcpy (noisy->planes[p] + y * noisy->strides[p], clean->planes[p] + y * clean->strides[p],
              (clean->width + 1) / 2);
  return noisy;
}

/* kbps of @n frames at 30 fps. */
static double
encode_kbps (ConfabVideoEncoder *encoder,
             ConfabTestPattern *pattern,
             guint64 *frame_number,
             guint n)
{
  g_autoptr (GError) error = NULL;
  gsize bytes = 0;

  for (guint i = 0; i < n; i++)
    {
      guint64 number = (*frame_number)++;
      g_autoptr (ConfabVideoFrame) source = noisy_picture (pattern, number);
      ConfabEncodedFrame encoded;

      g_assert_true (confab_video_encoder_encode (encoder, source, &encoded, &error));
      g_assert_no_error (error);
      bytes += encoded.size;
    }
  return bytes * 8.0 * 30 / n / 1000;
}

static void
bitrate_follows_tier (ConfabVideoCodec codec)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (ConfabVideoEncoder) encoder = NULL;
  g_autoptr (ConfabTestPattern) pattern = confab_test_pattern_new (640, 360);
  guint64 frame_number = 0;
  double high, low;

  /* PROTOCOL.md §5 camera tiers: 600 kbps (480p) down to 150 kbps (240p);
   * the encoder must follow a tier change without a restart. */
  encoder = confab_video_encoder_new (codec, 640, 360, 30, 1500, 0, &error);
  g_assert_no_error (error);
  encode_kbps (encoder, pattern, &frame_number, 30); /* past the key frame */
  high = encode_kbps (encoder, pattern, &frame_number, 60);
  g_assert_true (confab_video_encoder_set_bitrate (encoder, 150));
  encode_kbps (encoder, pattern, &frame_number, 30); /* settle */
  low = encode_kbps (encoder, pattern, &frame_number, 90);
  g_test_message ("%s: %.0f kbps at a 1500 kbps target, %.0f kbps at 150",
                  confab_video_codec_to_string (codec), high, low);
  g_assert_cmpfloat (high, >=, 1500 * 0.75);
  g_assert_cmpfloat (high, <=, 1500 * 1.25);
  g_assert_cmpfloat (low, >=, 150 * 0.5);
  g_assert_cmpfloat (low, <=, 150 * 1.3);
}

static void
test_bitrate_follows_tier (void)
{
  bitrate_follows_tier (CONFAB_VIDEO_CODEC_H264);
  bitrate_follows_tier (CONFAB_VIDEO_CODEC_VP9);
  bitrate_follows_tier (CONFAB_VIDEO_CODEC_VP8);
}

/* Deterministic junk (xorshift), so a failure reproduces. */
static void
fill_junk (guint8 *data, gsize size, guint32 seed)
{
  guint32 x = seed | 1;
  for (gsize i = 0; i < size; i++)
    {
      x ^= x << 13;
      x ^= x >> 17;
      x ^= x << 5;
      data[i] = (guint8) x;
    }
}

static void
broken_input (ConfabVideoCodec codec)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) encoded = encode_frames (codec, 320, 180, 30, NULL);
  g_autoptr (ConfabVideoDecoder) decoder = confab_video_decoder_new (codec, 0, &error);
  guint8 junk[4096];
  gsize key_size, delta_size;
  const guint8 *key = g_bytes_get_data (g_ptr_array_index (encoded, 0), &key_size);
  const guint8 *delta = g_bytes_get_data (g_ptr_array_index (encoded, 1), &delta_size);
  guint errors_before;

  g_assert_no_error (error);

  /* Empty input. */
  {
    ConfabVideoFrame *frame = NULL;
    g_assert_false (confab_video_decoder_decode (decoder, NULL, 0, 0, &frame, &error));
    g_assert_error (error, CONFAB_MEDIA_ERROR, CONFAB_MEDIA_ERROR_DECODE);
    g_assert_null (frame);
    g_clear_error (&error);
  }

  /* A delta frame with no key frame before it: nothing to predict from. */
  {
    ConfabVideoFrame *frame = NULL;
    g_assert_false (confab_video_decoder_decode (decoder, delta, delta_size, 0, &frame, &error));
    g_assert_error (error, CONFAB_MEDIA_ERROR, CONFAB_MEDIA_ERROR_DECODE);
    g_assert_null (frame);
    g_clear_error (&error);
  }

  /* Pure junk of many sizes: every one is reported, none yields a picture. */
  for (guint32 seed = 1; seed <= 200; seed++)
    {
      ConfabVideoFrame *frame = NULL;
      gsize size = 1 + seed * 37 % sizeof junk;

      fill_junk (junk, size, seed);
      if (codec == CONFAB_VIDEO_CODEC_H264 && size > 4)
        memcpy (junk, "\0\0\0\1", 4); /* reach the NAL parser, not only the start-code search */
      g_assert_false (confab_video_decoder_decode (decoder, junk, size, 0, &frame, &error));
      g_assert_error (error, CONFAB_MEDIA_ERROR, CONFAB_MEDIA_ERROR_DECODE);
      g_assert_null (frame);
      g_clear_error (&error);
    }

  /* Truncated and bit-flipped real frames: no crash; the decoder may conceal
   * some damage, but whatever comes out has the stream's size, and a later
   * key frame brings it back. */
  errors_before = confab_video_decoder_get_errors (decoder);
  for (guint i = 0; i < 60; i++)
    {
      g_autoptr (ConfabVideoFrame) frame = NULL;
      g_autofree guint8 *copy = g_memdup2 (i % 2 ? delta : key, i % 2 ? delta_size : key_size);
      gsize size = (i % 2 ? delta_size : key_size) * (i % 10 + 1) / 12;

      if (i >= 30)
        {
          size = i % 2 ? delta_size : key_size;
          copy[size / 3 + i] ^= 0x5a;
          copy[size / 2] ^= 0xff;
        }
      if (!confab_video_decoder_decode (decoder, copy, MAX (size, 1), 0, &frame, &error))
        {
          g_assert_error (error, CONFAB_MEDIA_ERROR, CONFAB_MEDIA_ERROR_DECODE);
          g_clear_error (&error);
        }
      else if (frame != NULL)
        {
          g_assert_cmpint (frame->width, ==, 320);
          g_assert_cmpint (frame->height, ==, 180);
        }
    }
  g_test_message ("%s: %u of 60 damaged frames reported", confab_video_codec_to_string (codec),
                  (guint) (confab_video_decoder_get_errors (decoder) - errors_before));
  g_assert_cmpuint (confab_video_decoder_get_errors (decoder) - errors_before, >=, 20);

  /* Recovery: the key frame and its deltas decode again. */
  for (guint i = 0; i < encoded->len; i++)
    {
      g_autoptr (ConfabVideoFrame) frame = NULL;
      gsize size;
      const guint8 *data = g_bytes_get_data (g_ptr_array_index (encoded, i), &size);

      if (!confab_video_decoder_decode (decoder, data, size, 0, &frame, &error))
        g_error ("recovery frame %u: %s", i, error->message);
      g_assert_no_error (error);
      g_assert_nonnull (frame);
    }
}

static void
test_vp8_broken_input (void)
{
  broken_input (CONFAB_VIDEO_CODEC_VP8);
}

static void
test_vp9_broken_input (void)
{
  broken_input (CONFAB_VIDEO_CODEC_VP9);
}

static void
test_h264_broken_input (void)
{
  broken_input (CONFAB_VIDEO_CODEC_H264);
}

static void
test_unknown_codec (void)
{
  g_autoptr (GError) error = NULL;
  ConfabVideoDecoder *decoder = confab_video_decoder_new ((ConfabVideoCodec) 7, 0, &error);

  g_assert_null (decoder);
  g_assert_error (error, CONFAB_MEDIA_ERROR, CONFAB_MEDIA_ERROR_INVALID);
}

/* ---- Opus ----------------------------------------------------------------- */

typedef struct
{
  guint8 data[CONFAB_AUDIO_MAX_PACKET];
  gsize len;
} Packet;

/* A voice-like test signal: a tone whose pitch steps every 100 ms, so that
 * extrapolating from the past (PLC) is measurably worse than FEC. */
static Packet *
encode_speechy (guint n, gint16 *reference_out)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (ConfabAudioEncoder) encoder = confab_audio_encoder_new (0, &error);
  Packet *packets = g_new0 (Packet, n);
  double phase = 0;

  g_assert_no_error (error);
  for (guint i = 0; i < n; i++)
    {
      gint16 pcm[CONFAB_AUDIO_FRAME_SAMPLES];
      double freq = 200 + 150 * ((i / 5) % 4);
      gssize len;

      for (int s = 0; s < CONFAB_AUDIO_FRAME_SAMPLES; s++)
        {
          pcm[s] = (gint16) (9000 * sin (phase) + 3000 * sin (3.1 * phase));
          phase += 2 * G_PI * freq / CONFAB_AUDIO_SAMPLE_RATE;
        }
      if (reference_out != NULL)
        memcpy (reference_out + (gsize) i * CONFAB_AUDIO_FRAME_SAMPLES, pcm, sizeof pcm);
      len = confab_audio_encoder_encode (encoder, pcm, packets[i].data, sizeof packets[i].data,
                                         &error);
      g_assert_no_error (error);
      g_assert_cmpint (len, >, 0);
      packets[i].len = (gsize) len;
    }
  return packets;
}

/* Energy of the difference between two 20 ms frames, relative to @a. */
static double
frame_snr_db (const gint16 *a, const gint16 *b)
{
  double signal = 0, noise = 0;

  for (int s = 0; s < CONFAB_AUDIO_FRAME_SAMPLES; s++)
    {
      signal += (double) a[s] * a[s];
      noise += ((double) a[s] - b[s]) * ((double) a[s] - b[s]);
    }
  return 10 * log10 ((signal + 1) / (noise + 1));
}

static void
test_opus_fec_and_plc (void)
{
  g_autoptr (GError) error = NULL;
  guint n = 100;
  g_autofree Packet *packets = encode_speechy (n, NULL);
  g_autoptr (ConfabAudioDecoder) clean = confab_audio_decoder_new (&error);
  g_autoptr (ConfabAudioDecoder) fec = confab_audio_decoder_new (&error);
  g_autoptr (ConfabAudioDecoder) plc = confab_audio_decoder_new (&error);
  g_autofree gint16 *clean_pcm = g_new0 (gint16, (gsize) n * CONFAB_AUDIO_FRAME_SAMPLES);
  guint with_fec = 0, lost = 0;
  double fec_snr = 0, plc_snr = 0;

  g_assert_no_error (error);
  for (guint i = 0; i < n; i++)
    {
      g_assert_true (confab_audio_decoder_decode (clean, packets[i].data, packets[i].len,
                                                  clean_pcm + (gsize) i * 960, &error));
      g_assert_no_error (error);
      with_fec += confab_audio_packet_has_fec (packets[i].data, packets[i].len);
    }
  /* The encoder puts LBRR in (almost) every packet once it is running. */
  g_test_message ("%u of %u packets carry FEC", with_fec, n);
  g_assert_cmpuint (with_fec, >=, n * 8 / 10);

  /* Lose every 10th packet (after start-up); one receiver conceals with the
   * next packet's FEC, the other must use PLC. Every output is 960 samples. */
  for (guint i = 0; i < n; i++)
    {
      gint16 a[CONFAB_AUDIO_FRAME_SAMPLES], b[CONFAB_AUDIO_FRAME_SAMPLES];
      const gint16 *truth = clean_pcm + (gsize) i * 960;

      if (i % 10 == 5 && i + 1 < n)
        {
          ConfabAudioConcealment how;

          memset (a, 0x55, sizeof a);
          how = confab_audio_decoder_conceal (fec, packets[i + 1].data, packets[i + 1].len, a);
          if (confab_audio_packet_has_fec (packets[i + 1].data, packets[i + 1].len))
            g_assert_cmpint (how, ==, CONFAB_AUDIO_CONCEAL_FEC);
          g_assert_cmpint (confab_audio_decoder_conceal (plc, NULL, 0, b), ==,
                           CONFAB_AUDIO_CONCEAL_PLC);
          fec_snr += frame_snr_db (truth, a);
          plc_snr += frame_snr_db (truth, b);
          lost++;
          continue;
        }
      g_assert_true (confab_audio_decoder_decode (fec, packets[i].data, packets[i].len, a, &error));
      g_assert_true (confab_audio_decoder_decode (plc, packets[i].data, packets[i].len, b, &error));
      g_assert_no_error (error);
    }
  g_test_message ("concealed frames vs clean decode: FEC %.1f dB, PLC %.1f dB (mean of %u)",
                  fec_snr / lost, plc_snr / lost, lost);
  /* FEC rebuilds the lost frame itself: close to the clean decode, and better
   * than guessing from the past. */
  g_assert_cmpfloat (fec_snr / lost, >, 6.0);
  g_assert_cmpfloat (fec_snr / lost, >, plc_snr / lost + 3.0);
}

static void
test_opus_concealment_continuity (void)
{
  /* A lost frame is replaced by 960 samples that join the neighbours without
   * a click: the jump at each boundary stays near the signal's own slope. */
  g_autoptr (GError) error = NULL;
  g_autoptr (ConfabAudioDecoder) decoder = confab_audio_decoder_new (&error);
  g_autoptr (ConfabAudioEncoder) encoder = confab_audio_encoder_new (0, &error);
  g_autoptr (ConfabToneSource) tone = confab_tone_source_new (440, 48000, 0.3);
  gint16 previous_last = 0;
  int max_step = 0, max_boundary_step = 0;

  for (int i = 0; i < 50; i++)
    {
      gint16 in[CONFAB_AUDIO_FRAME_SAMPLES], out[CONFAB_AUDIO_FRAME_SAMPLES];
      guint8 packet[CONFAB_AUDIO_MAX_PACKET];
      gssize len;

      confab_tone_source_fill (tone, in, G_N_ELEMENTS (in));
      len = confab_audio_encoder_encode (encoder, in, packet, sizeof packet, &error);
      g_assert_no_error (error);
      if (i % 7 == 3)
        g_assert_cmpint (confab_audio_decoder_conceal (decoder, NULL, 0, out), ==,
                         CONFAB_AUDIO_CONCEAL_PLC);
      else
        g_assert_true (confab_audio_decoder_decode (decoder, packet, (gsize) len, out, &error));
      if (i < 5)
        {
          previous_last = out[959];
          continue;
        }
      for (int s = 1; s < 960; s++)
        max_step = MAX (max_step, ABS (out[s] - out[s - 1]));
      max_boundary_step = MAX (max_boundary_step, ABS (out[0] - previous_last));
      previous_last = out[959];
    }
  /* A 0.3 full-scale 440 Hz sine moves at most ~570 per sample. */
  g_test_message ("largest step inside frames %d, at frame boundaries %d", max_step,
                  max_boundary_step);
  g_assert_cmpint (max_boundary_step, <=, 2 * 570);
}

static void
test_opus_bad_packets (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (ConfabAudioDecoder) decoder = confab_audio_decoder_new (&error);
  gint16 pcm[CONFAB_AUDIO_FRAME_SAMPLES];
  guint8 junk[1500];
  /* TOC config 3: SILK NB 60 ms; code 0: one frame. Too long for us. */
  guint8 sixty_ms[] = { 3 << 3, 0x12, 0x34 };

  g_assert_false (confab_audio_decoder_decode (decoder, junk, 0, pcm, &error));
  g_assert_error (error, CONFAB_MEDIA_ERROR, CONFAB_MEDIA_ERROR_DECODE);
  g_clear_error (&error);
  g_assert_false (confab_audio_decoder_decode (decoder, sixty_ms, sizeof sixty_ms, pcm, &error));
  g_assert_error (error, CONFAB_MEDIA_ERROR, CONFAB_MEDIA_ERROR_DECODE);
  g_clear_error (&error);
  for (guint32 seed = 1; seed < 500; seed++)
    {
      gsize size = 1 + seed * 13 % sizeof junk;

      fill_junk (junk, size, seed);
      if (!confab_audio_decoder_decode (decoder, junk, size, pcm, &error))
        {
          g_assert_error (error, CONFAB_MEDIA_ERROR, CONFAB_MEDIA_ERROR_DECODE);
          g_clear_error (&error);
        }
      (void) confab_audio_packet_has_fec (junk, size);
      confab_audio_decoder_conceal (decoder, junk, size, pcm);
    }
}

static void
test_opus_dtx (void)
{
  /* Silence costs almost nothing (DTX) but still yields one packet per 20 ms
   * that decodes to 960 samples, so sequences stay continuous. */
  g_autoptr (GError) error = NULL;
  g_autoptr (ConfabAudioEncoder) encoder = confab_audio_encoder_new (0, &error);
  g_autoptr (ConfabAudioDecoder) decoder = confab_audio_decoder_new (&error);
  gint16 silence[CONFAB_AUDIO_FRAME_SAMPLES] = { 0 };
  gint16 out[CONFAB_AUDIO_FRAME_SAMPLES];
  guint8 packet[CONFAB_AUDIO_MAX_PACKET];
  gsize total = 0;

  for (int i = 0; i < 100; i++)
    {
      gssize len = confab_audio_encoder_encode (encoder, silence, packet, sizeof packet, &error);

      g_assert_no_error (error);
      g_assert_cmpint (len, >=, 1);
      if (i >= 50)
        total += (gsize) len;
      g_assert_true (confab_audio_decoder_decode (decoder, packet, (gsize) len, out, &error));
      g_assert_no_error (error);
    }
  g_test_message ("1 s of silence after DTX settled: %" G_GSIZE_FORMAT " bytes", total);
  g_assert_cmpuint (total, <, 50 * 10);
}

/* ---- speeds (-m perf) ----------------------------------------------------- */

static void
measure_decode (ConfabVideoCodec codec, int width, int height)
{
  g_autoptr (GError) error = NULL;
  guint n = 150, rounds = 3;
  g_autoptr (GPtrArray) encoded = encode_frames (codec, width, height, n, NULL);
  gint64 t0;
  double seconds;

  t0 = g_get_monotonic_time ();
  for (guint r = 0; r < rounds; r++)
    {
      g_autoptr (ConfabVideoDecoder) decoder = confab_video_decoder_new (codec, 1, &error);
      for (guint i = 0; i < n; i++)
        {
          g_autoptr (ConfabVideoFrame) frame = NULL;
          gsize size;
          const guint8 *data = g_bytes_get_data (g_ptr_array_index (encoded, i), &size);
          g_assert_true (confab_video_decoder_decode (decoder, data, size, 0, &frame, &error));
        }
    }
  seconds = (g_get_monotonic_time () - t0) / 1e6;
  g_test_minimized_result (seconds / (n * rounds), "decode %s %dx%d%s: %.0f fps (1 thread)",
                           confab_video_codec_to_string (codec), width, height,
                           encode_noisy ? " noisy" : "", n * rounds / seconds);
}

static void
measure_h264_encode (int width, int height)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (ConfabVideoEncoder) encoder = NULL;
  g_autoptr (ConfabTestPattern) pattern = confab_test_pattern_new (width, height);
  g_autoptr (GPtrArray) frames =
      g_ptr_array_new_with_free_func ((GDestroyNotify) confab_video_frame_unref);
  int n = 150;
  gint64 t0;
  double seconds;

  /* Pictures made first so only the encoder is timed. */
  for (int i = 0; i < n; i++)
    {
      ConfabVideoFrame *frame = confab_test_pattern_next (pattern, i, i * 33333);
      g_ptr_array_add (frames, frame);
    }
  for (int threads = 1; threads <= 2; threads++)
    {
      g_clear_pointer (&encoder, confab_video_encoder_free);
      encoder =
          confab_video_encoder_new (CONFAB_VIDEO_CODEC_H264, width, height, 30, 0, threads, &error);
      g_assert_no_error (error);
      t0 = g_get_monotonic_time ();
      for (int i = 0; i < n; i++)
        {
          ConfabEncodedFrame encoded;
          g_assert_true (confab_video_encoder_encode (encoder, g_ptr_array_index (frames, i),
                                                      &encoded, &error));
        }
      seconds = (g_get_monotonic_time () - t0) / 1e6;
      g_test_minimized_result (seconds / n, "encode h264 %dx%d: %.0f fps (%d thread%s)", width,
                               height, n / seconds, threads, threads > 1 ? "s" : "");
    }
}

static void
test_speed (void)
{
  const int sizes[][2] = { { 640, 360 }, { 1280, 720 } };

  for (guint s = 0; s < G_N_ELEMENTS (sizes); s++)
    {
      for (int noisy = 0; noisy <= 1; noisy++)
        {
          encode_noisy = noisy;
          measure_decode (CONFAB_VIDEO_CODEC_VP8, sizes[s][0], sizes[s][1]);
          measure_decode (CONFAB_VIDEO_CODEC_VP9, sizes[s][0], sizes[s][1]);
          measure_decode (CONFAB_VIDEO_CODEC_H264, sizes[s][0], sizes[s][1]);
        }
      encode_noisy = FALSE;
      measure_h264_encode (sizes[s][0], sizes[s][1]);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/media/decoder/vp8/round-trip", test_vp8_round_trip);
  g_test_add_func ("/media/decoder/vp9/round-trip", test_vp9_round_trip);
  g_test_add_func ("/media/decoder/h264/round-trip", test_h264_round_trip);
  g_test_add_func ("/media/decoder/odd-size-round-trip", test_odd_size_round_trip);
  g_test_add_func ("/media/decoder/h264/keyframes", test_h264_keyframes);
  g_test_add_func ("/media/encoder/bitrate-follows-tier", test_bitrate_follows_tier);
  g_test_add_func ("/media/decoder/cross-thread-release", test_cross_thread_release);
  g_test_add_func ("/media/decoder/resolution-change", test_resolution_change);
  g_test_add_func ("/media/decoder/vp8/broken-input", test_vp8_broken_input);
  g_test_add_func ("/media/decoder/vp9/broken-input", test_vp9_broken_input);
  g_test_add_func ("/media/decoder/h264/broken-input", test_h264_broken_input);
  g_test_add_func ("/media/decoder/unknown-codec", test_unknown_codec);
  g_test_add_func ("/media/opus/fec-and-plc", test_opus_fec_and_plc);
  g_test_add_func ("/media/opus/concealment-continuity", test_opus_concealment_continuity);
  g_test_add_func ("/media/opus/bad-packets", test_opus_bad_packets);
  g_test_add_func ("/media/opus/dtx", test_opus_dtx);
  if (g_test_perf ())
    g_test_add_func ("/media/decoder/speed", test_speed);
  return g_test_run ();
}
