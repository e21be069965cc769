/* confab-application.c: one instance, one main window; every link handed to
 * any invocation lands in that window's pre-join page. */
#define G_LOG_DOMAIN "confab-application"

#include "confab-application.h"

#include "confab-renderer.h"
#include "confab-window.h"

#include <glib/gi18n.h>

struct _ConfabApplication
{
  AdwApplication parent_instance;
};

G_DEFINE_FINAL_TYPE (ConfabApplication, confab_application, ADW_TYPE_APPLICATION)

static ConfabWindow *
ensure_window (ConfabApplication *self)
{
  GtkWindow *window = gtk_application_get_active_window (GTK_APPLICATION (self));

  if (window == NULL)
    window = GTK_WINDOW (confab_window_new (GTK_APPLICATION (self)));
  return CONFAB_WINDOW (window);
}

static void
confab_application_activate (GApplication *application)
{
  gtk_window_present (GTK_WINDOW (ensure_window (CONFAB_APPLICATION (application))));
}

/* GApplication hands links over as GFiles; a confab:// or https:// link
 * keeps its text as the file's URI. Only the last one matters: one call at
 * a time. */
static void
confab_application_open (GApplication *application, GFile **files, int n_files, const char *hint)
{
  ConfabWindow *window = ensure_window (CONFAB_APPLICATION (application));

  if (n_files > 0)
    {
      g_autofree char *link = g_file_get_uri (files[n_files - 1]);

      confab_window_open_link (window, link);
    }
  gtk_window_present (GTK_WINDOW (window));
}

static void
quit_action (GSimpleAction *action, GVariant *parameter, gpointer data)
{
  g_application_quit (G_APPLICATION (data));
}

static void
about_action (GSimpleAction *action, GVariant *parameter, gpointer data)
{
  ConfabApplication *self = data;
  const char *developers[] = { "The Confab developers", NULL };

  adw_show_about_window (gtk_application_get_active_window (GTK_APPLICATION (self)),
                         "application-name", _ ("Confab"), "application-icon",
                         CONFAB_APPLICATION_ID, "version", CONFAB_VERSION, "license-type",
                         GTK_LICENSE_GPL_3_0, "developers", developers, NULL);
}

static const GActionEntry app_actions[] = {
  { .name = "quit", .activate = quit_action },
  { .name = "about", .activate = about_action },
};

static void
confab_application_startup (GApplication *application)
{
  const char *quit_accels[] = { "<Control>q", NULL };

  G_APPLICATION_CLASS (confab_application_parent_class)->startup (application);
  /* Before the first window: its renderer is chosen when it is realized. */
  confab_renderer_choose (gdk_display_get_default ());
  g_action_map_add_action_entries (G_ACTION_MAP (application), app_actions,
                                   G_N_ELEMENTS (app_actions), application);
  gtk_application_set_accels_for_action (GTK_APPLICATION (application), "app.quit", quit_accels);
}

static void
confab_application_class_init (ConfabApplicationClass *klass)
{
  GApplicationClass *application_class = G_APPLICATION_CLASS (klass);

  application_class->activate = confab_application_activate;
  application_class->open = confab_application_open;
  application_class->startup = confab_application_startup;
}

static void
confab_application_init (ConfabApplication *self)
{
}

ConfabApplication *
confab_application_new (void)
{
  return g_object_new (CONFAB_TYPE_APPLICATION, "application-id", CONFAB_APPLICATION_ID, "flags",
                       G_APPLICATION_HANDLES_OPEN, "resource-base-path", "/io/github/confab/Confab",
                       NULL);
}
