/* confab-video-capture.c: the shared camera stream (see the header). */
#define G_LOG_DOMAIN "confab-video-capture"

#include "confab-video-capture.h"

/* Long enough for the pre-join page to hand over to the call. */
#define LINGER_MS 1000

static struct
{
  ConfabPipewire *pipewire;
  ConfabCameraSource *camera; /* the shared one, while usable */
  char *target;
  guint holders;
  guint linger_id;
} shared;

static void
drop_shared (void)
{
  g_clear_handle_id (&shared.linger_id, g_source_remove);
  if (shared.camera != NULL)
    g_signal_handlers_disconnect_matched (shared.camera, G_SIGNAL_MATCH_DATA, 0, 0, NULL, NULL,
                                          &shared);
  g_clear_object (&shared.camera);
  g_clear_pointer (&shared.target, g_free);
  shared.holders = 0;
}

/* A failed camera is never handed out again; its holders hear "error". */
static void
on_shared_error (ConfabCameraSource *camera, const GError *error, gpointer data)
{
  drop_shared ();
}

static gboolean
linger_done (gpointer data)
{
  shared.linger_id = 0;
  drop_shared ();
  /* The connection goes too when nothing uses it. */
  g_clear_object (&shared.pipewire);
  return G_SOURCE_REMOVE;
}

ConfabCameraSource *
confab_video_capture_acquire_camera (const char *target, GError **error)
{
  ConfabCameraSource *camera;

  if (shared.camera != NULL && g_strcmp0 (shared.target, target) == 0)
    {
      g_clear_handle_id (&shared.linger_id, g_source_remove);
      shared.holders++;
      return g_object_ref (shared.camera);
    }
  if (shared.pipewire == NULL || !confab_pipewire_is_connected (shared.pipewire))
    {
      drop_shared ();
      g_clear_object (&shared.pipewire);
      shared.pipewire = confab_pipewire_new (-1, error);
      if (shared.pipewire == NULL)
        return NULL;
    }
  camera = confab_camera_source_new (shared.pipewire, target, 1280, 720, 30, error);
  if (camera == NULL)
    return NULL;
  /* Another device while one is held: that one stays unshared. */
  if (shared.camera != NULL && shared.holders > 0)
    return camera;
  drop_shared ();
  shared.camera = g_object_ref (camera);
  shared.target = g_strdup (target);
  shared.holders = 1;
  g_signal_connect (camera, "error", G_CALLBACK (on_shared_error), &shared);
  return camera;
}

void
confab_video_capture_release_camera (ConfabCameraSource *camera)
{
  g_return_if_fail (CONFAB_IS_CAMERA_SOURCE (camera));

  if (camera == shared.camera && shared.holders > 0 && --shared.holders == 0)
    {
      g_clear_handle_id (&shared.linger_id, g_source_remove);
      shared.linger_id = g_timeout_add (LINGER_MS, linger_done, NULL);
    }
  g_object_unref (camera);
}

void
confab_video_capture_forget (ConfabCameraSource *camera)
{
  if (camera != NULL && camera == shared.camera)
    drop_shared ();
}
