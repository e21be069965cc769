/* confab-renderer.h: which of GTK's renderers draws the app's windows. GTK
 * picks its GL renderer wherever GL works, also where GL is Mesa's software
 * rasteriser (llvmpipe, softpipe): there every window frame is rasterised by
 * the CPU in full, which cost a 4-person call most of a core. The app asks
 * once, before its first window, and draws with cairo in that case. */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

/* Before any window of @display is realized: when GL on @display is
 * rasterised in software and the user did not set GSK_RENDERER, GTK's cairo
 * renderer draws the windows. Returns TRUE when it chose cairo. */
gboolean confab_renderer_choose (GdkDisplay *display);

G_END_DECLS
