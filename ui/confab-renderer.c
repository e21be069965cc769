/* confab-renderer.c: the app's choice of GTK renderer (see the header). */
#define G_LOG_DOMAIN "confab-renderer"

#include "confab-renderer.h"

#include <epoxy/gl.h>
#include <string.h>

static gboolean
gl_is_software (GdkDisplay *display)
{
  g_autoptr (GdkGLContext) context = NULL;
  g_autoptr (GError) error = NULL;
  const char *renderer;
  gboolean software;

  context = gdk_display_create_gl_context (display, &error);
  if (context == NULL || !gdk_gl_context_realize (context, &error))
    {
      /* No GL at all: GTK falls back to cairo by itself. */
      g_debug ("No GL: %s", error != NULL ? error->message : "(no reason)");
      return FALSE;
    }
  gdk_gl_context_make_current (context);
  renderer = (const char *) glGetString (GL_RENDERER);
  software = renderer != NULL &&
             (strstr (renderer, "llvmpipe") != NULL || strstr (renderer, "softpipe") != NULL ||
              strstr (renderer, "swrast") != NULL);
  g_debug ("GL renderer: %s", renderer != NULL ? renderer : "(unknown)");
  gdk_gl_context_clear_current ();
  return software;
}

gboolean
confab_renderer_choose (GdkDisplay *display)
{
  g_return_val_if_fail (GDK_IS_DISPLAY (display), FALSE);

  if (g_getenv ("GSK_RENDERER") != NULL || !gl_is_software (display))
    return FALSE;
  /* GTK (4.0 to at least 4.16) reads a renderer name set on the display
   * before GSK_RENDERER and its own default; only windows realized after
   * this are affected. Cairo redraws only what changed and paints pictures
   * with pixman's SIMD code, where software GL rasterises the whole window
   * every frame. */
  g_object_set_data (G_OBJECT (display), "gsk-renderer", (gpointer) "cairo");
  g_debug ("GL is rasterised in software: windows are drawn with cairo");
  return TRUE;
}
