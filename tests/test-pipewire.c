/* test-pipewire.c: capture, playback and device listing against a real,
 * private PipeWire daemon (tests/pipewire-env.sh starts it with wireplumber,
 * the GStreamer test camera "testcam", the audiotestsrc microphone "testmic"
 * and the null sink "testsink"). More cameras are started here with
 * gst-launch-1.0 and killed to see hot-plug and a vanished camera. */
#define G_LOG_DOMAIN "test-pipewire"

#include "confab-pipewire-audio.h"
#include "confab-pipewire-camera.h"
#include "confab-pipewire-devices.h"
#include "confab-test-audio.h"
#include "confab-test-util.h"

#include "confab-test-source.h"

#include <gio/gio.h>
#include <math.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* ---- helpers ------------------------------------------------------------------------- */

static ConfabPipewire *
connect_pipewire (void)
{
  g_autoptr (GError) error = NULL;
  ConfabPipewire *pw = confab_pipewire_new (-1, &error);

  g_assert_no_error (error);
  g_assert_nonnull (pw);
  return pw;
}

/* A live GStreamer camera as a PipeWire Video/Source named @name, showing a
 * solid @pattern (a videotestsrc pattern name). */
static GSubprocess *
spawn_camera (const char *name, const char *format, int width, int height, const char *pattern)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *caps = g_strdup_printf (
      "video/x-raw,format=%s,width=%d,height=%d,framerate=30/1", format, width, height);
  g_autofree char *props =
      g_strdup_printf ("stream-properties=props,media.class=Video/Source,node.name=%s", name);
  g_autofree char *pattern_arg = g_strdup_printf ("pattern=%s", pattern);
  GSubprocess *process =
      g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_SILENCE,
                        &error, "gst-launch-1.0", "-q", "videotestsrc", "is-live=true", pattern_arg,
                        "!", caps, "!", "pipewiresink", "mode=provide", props, NULL);

  g_assert_no_error (error);
  return process;
}

static void
kill_process (GSubprocess *process)
{
  g_subprocess_force_exit (process);
  g_assert_true (g_subprocess_wait (process, NULL, NULL));
}

typedef struct
{
  ConfabDeviceKind kind;
  const char *name;
  gboolean added;
  gboolean removed;
} DeviceWatch;

static void
on_device_added (ConfabDeviceMonitor *monitor, ConfabDevice *device, DeviceWatch *watch)
{
  if (device->kind == watch->kind && g_strcmp0 (device->name, watch->name) == 0)
    watch->added = TRUE;
}

static void
on_device_removed (ConfabDeviceMonitor *monitor, ConfabDevice *device, DeviceWatch *watch)
{
  if (device->kind == watch->kind && g_strcmp0 (device->name, watch->name) == 0)
    watch->removed = TRUE;
}

/* Waits (bounded) until @monitor lists the camera @name. */
static void
wait_for_camera (ConfabDeviceMonitor *monitor, const char *name)
{
  DeviceWatch watch = { CONFAB_DEVICE_CAMERA, name };
  gulong id = g_signal_connect (monitor, "device-added", G_CALLBACK (on_device_added), &watch);

  watch.added = confab_device_monitor_lookup (monitor, CONFAB_DEVICE_CAMERA, name) != NULL;
  g_assert_true (confab_test_run_until (&watch.added, 10000));
  g_signal_handler_disconnect (monitor, id);
}

typedef struct
{
  guint frames;
  int width;
  int height;
  gint64 first_us;
  gint64 last_us;
  guint8 y, u, v;         /* centre pixel of the last frame */
  guint8 y_left, y_right; /* luma at 1/8 and 7/8 of the middle row */
  GError *error;
  guint frames_after_error;
  gboolean got_frame;
  gboolean got_error;
} CameraWatch;

static void
on_frame (ConfabCameraSource *camera, ConfabVideoFrame *frame, CameraWatch *watch)
{
  int cx = frame->width / 2, cy = frame->height / 2;

  if (watch->error != NULL)
    watch->frames_after_error++;
  watch->frames++;
  watch->width = frame->width;
  watch->height = frame->height;
  if (watch->first_us == 0)
    watch->first_us = g_get_monotonic_time ();
  watch->last_us = g_get_monotonic_time ();
  watch->y = frame->planes[0][cy * frame->strides[0] + cx];
  watch->u = frame->planes[1][cy / 2 * frame->strides[1] + cx / 2];
  watch->v = frame->planes[2][cy / 2 * frame->strides[2] + cx / 2];
  watch->y_left = frame->planes[0][cy * frame->strides[0] + frame->width / 8];
  watch->y_right = frame->planes[0][cy * frame->strides[0] + frame->width * 7 / 8];
  watch->got_frame = TRUE;
}

static void
on_camera_error (ConfabCameraSource *camera, const GError *error, CameraWatch *watch)
{
  g_assert_null (watch->error);
  watch->error = g_error_copy (error);
  watch->got_error = TRUE;
}

static ConfabCameraSource *
open_camera (ConfabPipewire *pw, const char *target, CameraWatch *watch)
{
  g_autoptr (GError) error = NULL;
  ConfabCameraSource *camera = confab_camera_source_new (pw, target, 1280, 720, 30, &error);

  g_assert_no_error (error);
  g_signal_connect (camera, "frame", G_CALLBACK (on_frame), watch);
  g_signal_connect (camera, "error", G_CALLBACK (on_camera_error), watch);
  return camera;
}

/* Spins the main context for @ms. */
static void
run_for (guint ms)
{
  gboolean never = FALSE;

  confab_test_run_until (&never, ms);
}

/* ---- devices ---------------------------------------------------------------------------- */

static void
test_devices_list (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (ConfabPipewire) pw = connect_pipewire ();
  g_autoptr (ConfabDeviceMonitor) monitor = confab_device_monitor_new (pw, &error);
  g_autoptr (GPtrArray) cameras = NULL;
  ConfabDevice *device;

  g_assert_no_error (error);
  device = confab_device_monitor_lookup (monitor, CONFAB_DEVICE_CAMERA, "testcam");
  g_assert_nonnull (device);
  g_assert_cmpstr (device->media_class, ==, "Video/Source");
  device = confab_device_monitor_lookup (monitor, CONFAB_DEVICE_MICROPHONE, "testmic");
  g_assert_nonnull (device);
  g_assert_cmpstr (device->description, ==, "Test microphone");
  device = confab_device_monitor_lookup (monitor, CONFAB_DEVICE_SPEAKER, "testsink");
  g_assert_nonnull (device);
  g_assert_cmpstr (device->description, ==, "Test speaker");
  /* Kinds do not mix: the sink is not a microphone. */
  g_assert_null (confab_device_monitor_lookup (monitor, CONFAB_DEVICE_MICROPHONE, "testsink"));
  cameras = confab_device_monitor_list (monitor, CONFAB_DEVICE_CAMERA);
  g_assert_cmpuint (cameras->len, ==, 1);
}

static void
test_devices_hotplug (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (ConfabPipewire) pw = connect_pipewire ();
  g_autoptr (ConfabDeviceMonitor) monitor = confab_device_monitor_new (pw, &error);
  g_autoptr (GSubprocess) camera = NULL;
  g_autoptr (GPtrArray) cameras = NULL;
  DeviceWatch watch = { CONFAB_DEVICE_CAMERA, "hotcam" };

  g_assert_no_error (error);
  g_signal_connect (monitor, "device-added", G_CALLBACK (on_device_added), &watch);
  g_signal_connect (monitor, "device-removed", G_CALLBACK (on_device_removed), &watch);
  g_assert_null (confab_device_monitor_lookup (monitor, CONFAB_DEVICE_CAMERA, "hotcam"));

  camera = spawn_camera ("hotcam", "I420", 320, 240, "ball");
  g_assert_true (confab_test_run_until (&watch.added, 10000));
  g_assert_nonnull (confab_device_monitor_lookup (monitor, CONFAB_DEVICE_CAMERA, "hotcam"));
  cameras = confab_device_monitor_list (monitor, CONFAB_DEVICE_CAMERA);
  g_assert_cmpuint (cameras->len, ==, 2);

  kill_process (camera);
  g_assert_true (confab_test_run_until (&watch.removed, 10000));
  g_assert_null (confab_device_monitor_lookup (monitor, CONFAB_DEVICE_CAMERA, "hotcam"));
  g_assert_nonnull (confab_device_monitor_lookup (monitor, CONFAB_DEVICE_CAMERA, "testcam"));
}

/* ---- camera ------------------------------------------------------------------------------ */

static void
check_testcam_frames (ConfabPipewire *pw, const char *target)
{
  g_autoptr (ConfabCameraSource) camera = NULL;
  CameraWatch watch = { 0 };
  int width = 0, height = 0;
  double fps = 0, handover_mean;
  gint64 handover_max;
  const char *format = NULL;
  guint frames_at_start;
  gint64 t0;
  double measured_fps;

  camera = open_camera (pw, target, &watch);
  g_assert_true (confab_test_run_until (&watch.got_frame, 10000));
  g_assert_null (watch.error);
  g_assert_true (confab_camera_source_get_format (camera, &width, &height, &fps, &format));
  g_assert_cmpint (width, ==, 1280);
  g_assert_cmpint (height, ==, 720);
  g_assert_cmpfloat_with_epsilon (fps, 30.0, 0.01);
  g_assert_cmpstr (format, ==, "I420");

  /* Two seconds of frames at the camera's rate. */
  frames_at_start = watch.frames;
  t0 = g_get_monotonic_time ();
  run_for (2000);
  measured_fps = (watch.frames - frames_at_start) * 1e6 / (g_get_monotonic_time () - t0);
  g_assert_null (watch.error);
  g_assert_cmpint (watch.width, ==, 1280);
  g_assert_cmpint (watch.height, ==, 720);
  g_assert_cmpfloat (measured_fps, >=, 22.0);
  g_assert_cmpfloat (measured_fps, <=, 35.0);
  /* SMPTE bars: white-ish on the left, blue-ish on the right of the top part. */
  g_assert_cmpint (ABS ((int) watch.y_left - (int) watch.y_right), >, 40);

  confab_camera_source_get_handover_us (camera, &handover_mean, &handover_max);
  g_test_message ("camera %s: %.1f fps, %" G_GUINT64_FORMAT " captured, %" G_GUINT64_FORMAT
                  " replaced before use, hand-over to main context %.0f us mean / %" G_GINT64_FORMAT
                  " us max",
                  target ? target : "(default)", measured_fps,
                  confab_camera_source_get_frames_captured (camera),
                  confab_camera_source_get_frames_dropped (camera), handover_mean, handover_max);
  g_assert_cmpfloat (handover_mean, <, 20000);
}

static void
test_camera_frames (void)
{
  g_autoptr (ConfabPipewire) pw = connect_pipewire ();

  check_testcam_frames (pw, "testcam");
}

static void
test_camera_default (void)
{
  g_autoptr (ConfabPipewire) pw = connect_pipewire ();

  check_testcam_frames (pw, NULL);
}

/* The Camera portal hands out an fd (OpenPipeWireRemote): the same code
 * runs over any connected PipeWire socket. */
static void
test_camera_fd (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (ConfabPipewire) pw = NULL;
  g_autofree char *path = g_build_filename (g_getenv ("XDG_RUNTIME_DIR"), "pipewire-0", NULL);
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  int fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

  g_assert_cmpint (fd, >=, 0);
  g_strlcpy (addr.sun_path, path, sizeof addr.sun_path);
  g_assert_cmpint (connect (fd, (struct sockaddr *) &addr, sizeof addr), ==, 0);
  pw = confab_pipewire_new (fd, &error);
  g_assert_no_error (error);
  check_testcam_frames (pw, "testcam");
}

static void
test_camera_bad_fd (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (ConfabPipewire) pw = NULL;
  int fds[2];

  /* A socket nobody answers on: refused within the round-trip bound. */
  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), ==, 0);
  pw = confab_pipewire_new (fds[0], &error);
  g_assert_error (error, CONFAB_PIPEWIRE_ERROR, CONFAB_PIPEWIRE_ERROR_CONNECT);
  g_assert_null (pw);
  close (fds[1]);
}

static void
test_camera_missing (void)
{
  g_autoptr (ConfabPipewire) pw = connect_pipewire ();
  g_autoptr (ConfabCameraSource) camera = NULL;
  CameraWatch watch = { 0 };

  camera = open_camera (pw, "nosuchcam", &watch);
  g_assert_true (confab_test_run_until (&watch.got_error, 10000));
  g_assert_error (watch.error, CONFAB_PIPEWIRE_ERROR, CONFAB_PIPEWIRE_ERROR_STREAM);
  g_assert_cmpuint (watch.frames, ==, 0);
  g_clear_error (&watch.error);
}

/* A camera offering only @format (NV12 or YUY2) in solid red: converted to
 * I420 with the right colours; then killed: one clear error, no more frames. */
static void
test_camera_convert_and_vanish (gconstpointer data)
{
  const char *format = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (ConfabPipewire) pw = connect_pipewire ();
  g_autoptr (ConfabDeviceMonitor) monitor = confab_device_monitor_new (pw, &error);
  g_autoptr (GSubprocess) process = NULL;
  g_autoptr (ConfabCameraSource) camera = NULL;
  g_autofree char *name = g_strdup_printf ("cam%s", format);
  CameraWatch watch = { 0 };
  const char *negotiated = NULL;
  int width = 0, height = 0;
  gint64 killed_us, error_ms;

  g_assert_no_error (error);
  process = spawn_camera (name, format, 640, 480, "red");
  wait_for_camera (monitor, name);
  /* Listed is not yet ready: give GStreamer's node a moment to publish its
   * formats, or the session manager may find nothing to link. */
  run_for (500);

  camera = open_camera (pw, name, &watch);
  g_assert_true (confab_test_run_until (&watch.got_frame, 10000));
  g_assert_true (confab_camera_source_get_format (camera, &width, &height, NULL, &negotiated));
  g_assert_cmpstr (negotiated, ==, format);
  g_assert_cmpint (watch.width, ==, 640);
  g_assert_cmpint (watch.height, ==, 480);
  /* BT.601 red: Y 81, U 90, V 240 (limited range). */
  g_test_message ("%s red -> Y %u U %u V %u", format, watch.y, watch.u, watch.v);
  g_assert_cmpint (ABS ((int) watch.y - 81), <=, 6);
  g_assert_cmpint (ABS ((int) watch.u - 90), <=, 6);
  g_assert_cmpint (ABS ((int) watch.v - 240), <=, 6);
  run_for (300);
  g_assert_null (watch.error);

  killed_us = g_get_monotonic_time ();
  kill_process (process);
  g_assert_true (confab_test_run_until (&watch.got_error, 5000));
  error_ms = (g_get_monotonic_time () - killed_us) / 1000;
  g_test_message ("camera gone reported after %" G_GINT64_FORMAT " ms: %s", error_ms,
                  watch.error->message);
  g_assert_true (watch.error->domain == CONFAB_PIPEWIRE_ERROR);
  g_assert_true (watch.error->code == CONFAB_PIPEWIRE_ERROR_DEVICE_GONE ||
                 watch.error->code == CONFAB_PIPEWIRE_ERROR_STREAM);
  run_for (300);
  g_assert_cmpuint (watch.frames_after_error, ==, 0);
  g_clear_error (&watch.error);
}

/* ---- audio ------------------------------------------------------------------------------- */

typedef struct
{
  GArray *samples; /* gint16 */
  guint chunks;
  guint skip; /* chunks to ignore first (device start-up) */
  guint want; /* chunks to keep */
  gboolean done;
  GError *error;
} AudioWatch;

static void
on_chunk (ConfabAudioCapture *capture, const gint16 *pcm, AudioWatch *watch)
{
  watch->chunks++;
  if (watch->chunks <= watch->skip || watch->done)
    return;
  g_array_append_vals (watch->samples, pcm, CONFAB_AUDIO_FRAME_SAMPLES);
  if (watch->samples->len >= watch->want * CONFAB_AUDIO_FRAME_SAMPLES)
    watch->done = TRUE;
}

static void
on_audio_error (GObject *object, const GError *error, AudioWatch *watch)
{
  if (watch->error == NULL)
    watch->error = g_error_copy (error);
  watch->done = TRUE;
}

static ConfabAudioCapture *
open_capture (ConfabPipewire *pw, const char *target, gboolean monitor, AudioWatch *watch)
{
  g_autoptr (GError) error = NULL;
  ConfabAudioCapture *capture = confab_audio_capture_new (pw, target, monitor, &error);

  g_assert_no_error (error);
  watch->samples = g_array_new (FALSE, FALSE, sizeof (gint16));
  g_signal_connect (capture, "chunk", G_CALLBACK (on_chunk), watch);
  g_signal_connect (capture, "error", G_CALLBACK (on_audio_error), watch);
  return capture;
}

/* The test microphone's 660 Hz sine arrives as 20 ms chunks in real time. */
static void
test_audio_mic (void)
{
  g_autoptr (ConfabPipewire) pw = connect_pipewire ();
  g_autoptr (ConfabAudioCapture) capture = NULL;
  AudioWatch watch = { .skip = 5, .want = 50 };
  gint64 t0;
  double seconds, freq, power;

  capture = open_capture (pw, "testmic", FALSE, &watch);
  /* The microphone as captured: its processing (on by default) would fade
   * the steady tone as noise. tests/test-aec*.c cover the processing. */
  g_assert_nonnull (confab_audio_capture_get_processing (capture));
  confab_audio_processing_set_enabled (confab_audio_capture_get_processing (capture), FALSE);
  g_assert_true (confab_test_run_until (&watch.done, 10000));
  g_assert_no_error (watch.error);
  /* One second of audio in about one second. */
  watch.done = FALSE;
  g_array_set_size (watch.samples, 0);
  t0 = g_get_monotonic_time ();
  g_assert_true (confab_test_run_until (&watch.done, 10000));
  seconds = (g_get_monotonic_time () - t0) / 1e6;
  freq = confab_test_tone_frequency ((gint16 *) watch.samples->data, watch.samples->len, 48000);
  power = confab_test_tone_power ((gint16 *) watch.samples->data, watch.samples->len, 660, 48000);
  g_test_message ("mic: 50 chunks in %.3f s, %.2f Hz, power %.3f, %" G_GUINT64_FORMAT
                  " samples overrun",
                  seconds, freq, power, confab_audio_capture_get_overrun_samples (capture));
  g_assert_cmpfloat (seconds, >, 0.85);
  g_assert_cmpfloat (seconds, <, 1.25);
  g_assert_cmpfloat (fabs (freq - 660), <, 2);
  g_assert_cmpfloat (power, >, 0.01);
  g_assert_cmpuint (confab_audio_capture_get_overrun_samples (capture), ==, 0);
  g_array_unref (watch.samples);
}

static void
test_audio_missing (void)
{
  g_autoptr (ConfabPipewire) pw = connect_pipewire ();
  g_autoptr (ConfabAudioCapture) capture = NULL;
  AudioWatch watch = { .want = 1000 };

  capture = open_capture (pw, "nosuchmic", FALSE, &watch);
  g_assert_true (confab_test_run_until (&watch.done, 10000));
  g_assert_error (watch.error, CONFAB_PIPEWIRE_ERROR, CONFAB_PIPEWIRE_ERROR_STREAM);
  g_clear_error (&watch.error);
  g_array_unref (watch.samples);
}

typedef struct
{
  ConfabToneSource *a;
  ConfabToneSource *b; /* may be NULL */
} ToneMix;

static void
fill_tones (gint16 *pcm, gpointer data)
{
  ToneMix *mix = data;
  gint16 frame[CONFAB_AUDIO_FRAME_SAMPLES];
  gint32 acc[CONFAB_AUDIO_FRAME_SAMPLES] = { 0 };

  confab_tone_source_fill (mix->a, frame, CONFAB_AUDIO_FRAME_SAMPLES);
  confab_audio_mix_add (acc, frame, CONFAB_AUDIO_FRAME_SAMPLES);
  if (mix->b != NULL)
    {
      confab_tone_source_fill (mix->b, frame, CONFAB_AUDIO_FRAME_SAMPLES);
      confab_audio_mix_add (acc, frame, CONFAB_AUDIO_FRAME_SAMPLES);
    }
  confab_audio_mix_finish (acc, pcm, CONFAB_AUDIO_FRAME_SAMPLES);
}

/* Two "peers" (1000 Hz and 1500 Hz tones) mixed and played to the null
 * sink come back from its monitor with both tones and nothing at 440 Hz. */
static void
test_audio_playback_mix (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (ConfabPipewire) pw = connect_pipewire ();
  g_autoptr (ConfabAudioCapture) monitor = NULL;
  g_autoptr (ConfabAudioPlayback) playback = NULL;
  g_autoptr (ConfabToneSource) a = confab_tone_source_new (1000, 48000, 0.3);
  g_autoptr (ConfabToneSource) b = confab_tone_source_new (1500, 48000, 0.3);
  ToneMix mix = { a, b };
  AudioWatch watch = { .skip = 25, .want = 50 };
  double p1000, p1500, p440;
  gint16 *pcm;
  gsize n;

  playback = confab_audio_playback_new (pw, "testsink", fill_tones, &mix, &error);
  g_assert_no_error (error);
  monitor = open_capture (pw, "testsink", TRUE, &watch);
  g_assert_true (confab_test_run_until (&watch.done, 10000));
  g_assert_no_error (watch.error);
  pcm = (gint16 *) watch.samples->data;
  n = watch.samples->len;
  p1000 = confab_test_tone_power (pcm, n, 1000, 48000);
  p1500 = confab_test_tone_power (pcm, n, 1500, 48000);
  p440 = confab_test_tone_power (pcm, n, 440, 48000);
  g_test_message ("played mix: power at 1000 Hz %.4f, 1500 Hz %.4f, 440 Hz %.6f; %" G_GUINT64_FORMAT
                  " frames, %" G_GUINT64_FORMAT " underruns",
                  p1000, p1500, p440, confab_audio_playback_get_frames (playback),
                  confab_audio_playback_get_underruns (playback));
  /* A 0.3 sine has power 0.09. */
  g_assert_cmpfloat (p1000, >, 0.05);
  g_assert_cmpfloat (p1500, >, 0.05);
  g_assert_cmpfloat (p440, <, 0.001);
  g_assert_cmpuint (confab_audio_playback_get_underruns (playback), <=, 2);
  g_array_unref (watch.samples);
}

static void
test_audio_mix_clips (void)
{
  gint16 loud[4] = { 30000, -30000, 100, 0 };
  gint32 acc[4] = { 0 };
  gint16 out[4];

  confab_audio_mix_add (acc, loud, 4);
  confab_audio_mix_add (acc, loud, 4);
  confab_audio_mix_finish (acc, out, 4);
  g_assert_cmpint (out[0], ==, G_MAXINT16);
  g_assert_cmpint (out[1], ==, G_MININT16);
  g_assert_cmpint (out[2], ==, 200);
  g_assert_cmpint (out[3], ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  /* The daemon comes from tests/pipewire-env.sh; never the user's own. */
  if (g_getenv ("PIPEWIRE_RUNTIME_DIR") == NULL)
    {
      g_print ("1..0 # SKIP run inside tests/pipewire-env.sh\n");
      return 0;
    }
  g_test_add_func ("/media/pipewire/devices/list", test_devices_list);
  g_test_add_func ("/media/pipewire/devices/hotplug", test_devices_hotplug);
  g_test_add_func ("/media/pipewire/camera/frames", test_camera_frames);
  g_test_add_func ("/media/pipewire/camera/default", test_camera_default);
  g_test_add_func ("/media/pipewire/camera/fd", test_camera_fd);
  g_test_add_func ("/media/pipewire/camera/bad-fd", test_camera_bad_fd);
  g_test_add_func ("/media/pipewire/camera/missing", test_camera_missing);
  g_test_add_data_func ("/media/pipewire/camera/nv12-vanish", "NV12",
                        test_camera_convert_and_vanish);
  g_test_add_data_func ("/media/pipewire/camera/yuy2-vanish", "YUY2",
                        test_camera_convert_and_vanish);
  g_test_add_func ("/media/pipewire/audio/mic", test_audio_mic);
  g_test_add_func ("/media/pipewire/audio/missing", test_audio_missing);
  g_test_add_func ("/media/pipewire/audio/playback-mix", test_audio_playback_mix);
  g_test_add_func ("/media/pipewire/audio/mix-clips", test_audio_mix_clips);
  return g_test_run ();
}
