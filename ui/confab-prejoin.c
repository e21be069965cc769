/* confab-prejoin.c: camera preview, microphone meter and device pickers on
 * the pre-join page (see the header). */
#define G_LOG_DOMAIN "confab-prejoin"

#include "confab-prejoin.h"

#include "confab-device-row.h"
#include "confab-pipewire-audio.h"
#include "confab-pipewire-camera.h"
#include "confab-pipewire-devices.h"
#include "confab-video-capture.h"
#include "confab-video-grid.h"

#include <glib/gi18n.h>
#include <math.h>

#define PREVIEW_ID 1
/* The meter shows -60 dBFS … 0 dBFS, the loudest 20 ms of every 100 ms:
 * each change redraws the window, so not 50 times a second. */
#define LEVEL_FLOOR_DB -60.0
#define LEVEL_CHUNKS   5

struct _ConfabPrejoin
{
  GtkBox parent_instance;

  /* Template widgets */
  ConfabVideoGrid *preview;
  GtkLevelBar *level_bar;
  GtkLabel *problem_label;
  ConfabDeviceRow *camera_row;
  ConfabDeviceRow *microphone_row;
  ConfabDeviceRow *speaker_row;

  /* Owned */
  ConfabPipewire *pipewire;
  ConfabDeviceMonitor *monitor;
  ConfabCameraSource *camera;
  ConfabAudioCapture *microphone;
  char *camera_problem;
  char *microphone_problem;
  char *pipewire_problem;
  gboolean camera_on;
  gboolean microphone_on;
  guint level_chunks;
  double level_peak;    /* mean square, of this 100 ms so far */
  GtkStack *page_stack; /* the window's pages, watched while mapped */
};

G_DEFINE_FINAL_TYPE (ConfabPrejoin, confab_prejoin, GTK_TYPE_BOX)

enum
{
  PROP_0,
  PROP_CAMERA_ON,
  PROP_MICROPHONE_ON,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void start_capture (ConfabPrejoin *self);
static void stop_camera (ConfabPrejoin *self);
static void stop_microphone (ConfabPrejoin *self);

/* ---- what is missing ---------------------------------------------------------- */

static void
update_problem (ConfabPrejoin *self)
{
  g_autoptr (GString) text = g_string_new (NULL);
  const char *parts[] = { self->pipewire_problem, self->camera_problem, self->microphone_problem };

  for (guint i = 0; i < G_N_ELEMENTS (parts); i++)
    if (parts[i] != NULL)
      g_string_append_printf (text, "%s%s", text->len > 0 ? "\n" : "", parts[i]);
  if (text->len > 0)
    g_string_append_printf (text, "\n%s", _ ("You can still join the call."));
  gtk_label_set_text (self->problem_label, text->str);
  gtk_widget_set_visible (GTK_WIDGET (self->problem_label), text->len > 0);
}

static void
set_problem (char **slot, const char *problem)
{
  g_free (*slot);
  *slot = g_strdup (problem);
}

static const char *
device_problem (const GError *error, gboolean camera)
{
  if (g_error_matches (error, CONFAB_PIPEWIRE_ERROR, CONFAB_PIPEWIRE_ERROR_DEVICE_GONE))
    return camera ? _ ("The camera was disconnected.") : _ ("The microphone was disconnected.");
  if (g_error_matches (error, CONFAB_PIPEWIRE_ERROR, CONFAB_PIPEWIRE_ERROR_FORMAT))
    return camera ? _ ("The camera offers no picture format Confab can read.")
                  : _ ("The microphone offers no sound format Confab can read.");
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED))
    return camera ? _ ("Confab may not use the camera (permission denied).")
                  : _ ("Confab may not use the microphone (permission denied).");
  return camera ? _ ("No camera found.") : _ ("No microphone found.");
}

/* ---- the camera preview --------------------------------------------------------- */

static void
on_camera_frame (ConfabCameraSource *camera, ConfabVideoFrame *frame, ConfabPrejoin *self)
{
  confab_video_grid_push_frame (self->preview, PREVIEW_ID, frame);
}

static void
show_camera_state (ConfabPrejoin *self)
{
  ConfabParticipantTile *tile = confab_video_grid_lookup (self->preview, PREVIEW_ID);
  gboolean live = self->camera_on && self->camera != NULL;

  confab_video_grid_set_video_enabled (self->preview, PREVIEW_ID, live);
  if (tile != NULL)
    confab_participant_tile_set_status (
        tile, !self->camera_on ? _ ("Camera off")
              : live
                  ? NULL
                  : (self->camera_problem != NULL ? self->camera_problem : self->pipewire_problem));
  update_problem (self);
}

static void
on_camera_error (ConfabCameraSource *camera, const GError *error, ConfabPrejoin *self)
{
  g_message ("camera preview: %s", error->message);
  stop_camera (self);
  set_problem (&self->camera_problem, device_problem (error, TRUE));
  show_camera_state (self);
}

static void
stop_camera (ConfabPrejoin *self)
{
  if (self->camera == NULL)
    return;
  g_signal_handlers_disconnect_by_data (self->camera, self);
  confab_video_capture_release_camera (g_steal_pointer (&self->camera));
}

static void
start_camera (ConfabPrejoin *self)
{
  g_autoptr (GError) error = NULL;

  if (self->camera != NULL || self->pipewire == NULL || !self->camera_on)
    return;
  /* A camera the monitor does not list would only time out after 5 s. */
  if (self->monitor != NULL)
    {
      g_autoptr (GPtrArray) cameras =
          confab_device_monitor_list (self->monitor, CONFAB_DEVICE_CAMERA);

      if (cameras->len == 0)
        {
          set_problem (&self->camera_problem, _ ("No camera found."));
          show_camera_state (self);
          return;
        }
    }
  self->camera =
      confab_video_capture_acquire_camera (confab_device_row_get_device (self->camera_row), &error);
  if (self->camera == NULL)
    {
      set_problem (&self->camera_problem, device_problem (error, TRUE));
      show_camera_state (self);
      return;
    }
  g_signal_connect (self->camera, "frame", G_CALLBACK (on_camera_frame), self);
  g_signal_connect (self->camera, "error", G_CALLBACK (on_camera_error), self);
  set_problem (&self->camera_problem, NULL);
  show_camera_state (self);
}

/* ---- the microphone meter ----------------------------------------------------- */

static void
on_microphone_chunk (ConfabAudioCapture *microphone, gpointer data, ConfabPrejoin *self)
{
  const gint16 *samples = data;
  double sum = 0, db;

  for (guint i = 0; i < CONFAB_AUDIO_FRAME_SAMPLES; i++)
    sum += (double) samples[i] * samples[i];
  self->level_peak = MAX (self->level_peak, sum / CONFAB_AUDIO_FRAME_SAMPLES);
  if (++self->level_chunks < LEVEL_CHUNKS)
    return;
  db = 10.0 * log10 (self->level_peak / (32768.0 * 32768.0) + 1e-12);
  self->level_chunks = 0;
  self->level_peak = 0;
  gtk_level_bar_set_value (self->level_bar, CLAMP ((db - LEVEL_FLOOR_DB) / -LEVEL_FLOOR_DB, 0, 1));
}

static void
on_microphone_error (ConfabAudioCapture *microphone, const GError *error, ConfabPrejoin *self)
{
  g_message ("microphone meter: %s", error->message);
  stop_microphone (self);
  set_problem (&self->microphone_problem, device_problem (error, FALSE));
  update_problem (self);
}

static void
stop_microphone (ConfabPrejoin *self)
{
  gtk_level_bar_set_value (self->level_bar, 0);
  if (self->microphone == NULL)
    return;
  g_signal_handlers_disconnect_by_data (self->microphone, self);
  g_clear_object (&self->microphone);
}

static void
start_microphone (ConfabPrejoin *self)
{
  g_autoptr (GError) error = NULL;

  if (self->microphone != NULL || self->pipewire == NULL || !self->microphone_on)
    return;
  if (self->monitor != NULL)
    {
      g_autoptr (GPtrArray) microphones =
          confab_device_monitor_list (self->monitor, CONFAB_DEVICE_MICROPHONE);

      if (microphones->len == 0)
        {
          set_problem (&self->microphone_problem, _ ("No microphone found."));
          update_problem (self);
          return;
        }
    }
  self->microphone = confab_audio_capture_new (
      self->pipewire, confab_device_row_get_device (self->microphone_row), FALSE, &error);
  if (self->microphone == NULL)
    {
      set_problem (&self->microphone_problem, device_problem (error, FALSE));
      update_problem (self);
      return;
    }
  g_signal_connect (self->microphone, "chunk", G_CALLBACK (on_microphone_chunk), self);
  g_signal_connect (self->microphone, "error", G_CALLBACK (on_microphone_error), self);
  set_problem (&self->microphone_problem, NULL);
  update_problem (self);
}

/* ---- device pickers ------------------------------------------------------------ */

static void
set_picker_monitors (ConfabPrejoin *self)
{
  confab_device_row_set_monitor (self->camera_row, self->monitor);
  confab_device_row_set_monitor (self->microphone_row, self->monitor);
  confab_device_row_set_monitor (self->speaker_row, self->monitor);
}

/* The preview and the meter follow the choice (already saved) at once. */
static void
on_camera_chosen (ConfabDeviceRow *row, ConfabPrejoin *self)
{
  stop_camera (self);
  start_camera (self);
}

static void
on_microphone_chosen (ConfabDeviceRow *row, ConfabPrejoin *self)
{
  stop_microphone (self);
  start_microphone (self);
}

/* Hot-plug: a device that was missing is tried again (the rows, connected
 * first, already list it). */
static void
on_device_changed (ConfabDeviceMonitor *monitor, ConfabDevice *device, ConfabPrejoin *self)
{
  if (device->kind == CONFAB_DEVICE_CAMERA && self->camera == NULL)
    start_camera (self);
  else if (device->kind == CONFAB_DEVICE_MICROPHONE && self->microphone == NULL)
    start_microphone (self);
}

/* ---- on screen ------------------------------------------------------------------ */

static void
start_capture (ConfabPrejoin *self)
{
  g_autoptr (GError) error = NULL;

  if (self->pipewire == NULL || !confab_pipewire_is_connected (self->pipewire))
    {
      g_clear_object (&self->monitor);
      g_clear_object (&self->pipewire);
      self->pipewire = confab_pipewire_new (-1, &error);
      if (self->pipewire != NULL)
        self->monitor = confab_device_monitor_new (self->pipewire, &error);
      if (self->monitor == NULL)
        {
          g_message ("no devices: %s", error->message);
          g_clear_object (&self->pipewire);
          set_problem (&self->pipewire_problem,
                       _ ("Cameras and microphones are unavailable (PipeWire is not running)."));
        }
      set_picker_monitors (self);
      if (self->monitor != NULL)
        {
          set_problem (&self->pipewire_problem, NULL);
          g_signal_connect (self->monitor, "device-added", G_CALLBACK (on_device_changed), self);
          g_signal_connect (self->monitor, "device-removed", G_CALLBACK (on_device_changed), self);
        }
    }
  start_camera (self);
  start_microphone (self);
  show_camera_state (self);
}

static void
stop_capture (ConfabPrejoin *self)
{
  stop_camera (self);
  stop_microphone (self);
  if (self->monitor != NULL)
    g_signal_handlers_disconnect_by_data (self->monitor, self);
  g_clear_object (&self->monitor);
  /* Off screen the rows list only "Default"; the choice stays saved. */
  confab_device_row_set_monitor (self->camera_row, NULL);
  confab_device_row_set_monitor (self->microphone_row, NULL);
  confab_device_row_set_monitor (self->speaker_row, NULL);
  g_clear_object (&self->pipewire);
}

/* Leaving the page releases the devices at once, not when a crossfade
 * ends: the call opens the same camera right after, and some cameras
 * serve one reader at a time. */
static void
on_page_changed (GtkStack *stack, GParamSpec *pspec, ConfabPrejoin *self)
{
  GtkWidget *page = gtk_stack_get_visible_child (stack);

  if (page == NULL || !gtk_widget_is_ancestor (GTK_WIDGET (self), page))
    stop_capture (self);
  else if (gtk_widget_get_mapped (GTK_WIDGET (self)))
    start_capture (self);
}

static void
confab_prejoin_map (GtkWidget *widget)
{
  ConfabPrejoin *self = CONFAB_PREJOIN (widget);

  GTK_WIDGET_CLASS (confab_prejoin_parent_class)->map (widget);
  self->page_stack = GTK_STACK (gtk_widget_get_ancestor (widget, GTK_TYPE_STACK));
  if (self->page_stack != NULL)
    {
      g_signal_connect (self->page_stack, "notify::visible-child", G_CALLBACK (on_page_changed),
                        self);
      on_page_changed (self->page_stack, NULL, self);
    }
  else
    start_capture (self);
}

static void
confab_prejoin_unmap (GtkWidget *widget)
{
  ConfabPrejoin *self = CONFAB_PREJOIN (widget);

  /* Off screen (joined, or back to the start page): devices released. */
  if (self->page_stack != NULL)
    g_signal_handlers_disconnect_by_func (self->page_stack, on_page_changed, self);
  self->page_stack = NULL;
  stop_capture (self);
  GTK_WIDGET_CLASS (confab_prejoin_parent_class)->unmap (widget);
}

/* ---- GObject ---------------------------------------------------------------------- */

GtkWidget *
confab_prejoin_new (void)
{
  return g_object_new (CONFAB_TYPE_PREJOIN, NULL);
}

static void
set_camera_on (ConfabPrejoin *self, gboolean on)
{
  if (self->camera_on == !!on)
    return;
  self->camera_on = !!on;
  if (!on)
    stop_camera (self);
  else if (gtk_widget_get_mapped (GTK_WIDGET (self)))
    start_camera (self);
  show_camera_state (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CAMERA_ON]);
}

static void
set_microphone_on (ConfabPrejoin *self, gboolean on)
{
  if (self->microphone_on == !!on)
    return;
  self->microphone_on = !!on;
  if (!on)
    stop_microphone (self);
  else if (gtk_widget_get_mapped (GTK_WIDGET (self)))
    start_microphone (self);
  gtk_widget_set_sensitive (GTK_WIDGET (self->level_bar), on);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MICROPHONE_ON]);
}

static void
confab_prejoin_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  ConfabPrejoin *self = CONFAB_PREJOIN (object);

  switch (prop_id)
    {
      case PROP_CAMERA_ON:
        g_value_set_boolean (value, self->camera_on);
        break;
      case PROP_MICROPHONE_ON:
        g_value_set_boolean (value, self->microphone_on);
        break;
      default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
confab_prejoin_set_property (GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  ConfabPrejoin *self = CONFAB_PREJOIN (object);

  switch (prop_id)
    {
      case PROP_CAMERA_ON:
        set_camera_on (self, g_value_get_boolean (value));
        break;
      case PROP_MICROPHONE_ON:
        set_microphone_on (self, g_value_get_boolean (value));
        break;
      default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
confab_prejoin_dispose (GObject *object)
{
  ConfabPrejoin *self = CONFAB_PREJOIN (object);

  stop_capture (self);
  gtk_widget_dispose_template (GTK_WIDGET (self), CONFAB_TYPE_PREJOIN);
  G_OBJECT_CLASS (confab_prejoin_parent_class)->dispose (object);
}

static void
confab_prejoin_finalize (GObject *object)
{
  ConfabPrejoin *self = CONFAB_PREJOIN (object);

  g_clear_pointer (&self->camera_problem, g_free);
  g_clear_pointer (&self->microphone_problem, g_free);
  g_clear_pointer (&self->pipewire_problem, g_free);
  G_OBJECT_CLASS (confab_prejoin_parent_class)->finalize (object);
}

static void
confab_prejoin_class_init (ConfabPrejoinClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->get_property = confab_prejoin_get_property;
  object_class->set_property = confab_prejoin_set_property;
  object_class->dispose = confab_prejoin_dispose;
  object_class->finalize = confab_prejoin_finalize;
  widget_class->map = confab_prejoin_map;
  widget_class->unmap = confab_prejoin_unmap;

  properties[PROP_CAMERA_ON] =
      g_param_spec_boolean ("camera-on", NULL, NULL, TRUE,
                            G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_MICROPHONE_ON] =
      g_param_spec_boolean ("microphone-on", NULL, NULL, TRUE,
                            G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  g_type_ensure (CONFAB_TYPE_VIDEO_GRID);
  g_type_ensure (CONFAB_TYPE_DEVICE_ROW);
  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/confab/Confab/confab-prejoin.ui");
  gtk_widget_class_bind_template_child (widget_class, ConfabPrejoin, preview);
  gtk_widget_class_bind_template_child (widget_class, ConfabPrejoin, level_bar);
  gtk_widget_class_bind_template_child (widget_class, ConfabPrejoin, problem_label);
  gtk_widget_class_bind_template_child (widget_class, ConfabPrejoin, camera_row);
  gtk_widget_class_bind_template_child (widget_class, ConfabPrejoin, microphone_row);
  gtk_widget_class_bind_template_child (widget_class, ConfabPrejoin, speaker_row);
}

static void
confab_prejoin_init (ConfabPrejoin *self)
{
  ConfabParticipantTile *tile;

  gtk_widget_init_template (GTK_WIDGET (self));
  self->camera_on = TRUE;
  self->microphone_on = TRUE;

  g_signal_connect (self->camera_row, "device-chosen", G_CALLBACK (on_camera_chosen), self);
  g_signal_connect (self->microphone_row, "device-chosen", G_CALLBACK (on_microphone_chosen), self);

  confab_video_grid_set_show_view_toggle (self->preview, FALSE);
  tile = confab_video_grid_add (self->preview, PREVIEW_ID, _ ("You"), TRUE);
  confab_participant_tile_set_is_self (tile, TRUE);
}
