/* main.c: `confab [LINK]`: sets up translations and runs the application. */
#define G_LOG_DOMAIN "confab"

#include "confab-application.h"

#include <glib/gi18n.h>
#include <locale.h>

int
main (int argc, char *argv[])
{
  g_autoptr (ConfabApplication) application = NULL;

  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  g_set_application_name (_ ("Confab"));
  application = confab_application_new ();
  return g_application_run (G_APPLICATION (application), argc, argv);
}
