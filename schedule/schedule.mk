# schedule fragment: the shipped systemd timer and service template
# (vsnap-snapshot@DOMAIN.timer), the per-domain settings file and the cron
# example, installed by make install; tests/scenarios/schedule.sh runs the
# commands they run.
systemdsystemunit_DATA = schedule/vsnap-snapshot@.service schedule/vsnap-snapshot@.timer
vsnapconfdir = $(sysconfdir)/vsnap
vsnapconf_DATA = schedule/example.conf
vsnapexamplesdir = $(docdir)/examples
vsnapexamples_DATA = schedule/vsnap.cron
CLEANFILES += schedule/vsnap-snapshot@.service schedule/vsnap.cron
EXTRA_DIST += schedule/vsnap-snapshot@.service.in schedule/vsnap-snapshot@.timer \
	schedule/example.conf schedule/vsnap.cron.in

# the paths are make's, so that a prefix given to make install still holds
schedule_subst = sed -e 's|@bindir[@]|$(bindir)|g' -e 's|@sysconfdir[@]|$(sysconfdir)|g'
schedule/vsnap-snapshot@.service: $(srcdir)/schedule/vsnap-snapshot@.service.in Makefile
	$(AM_V_GEN)$(MKDIR_P) schedule && $(schedule_subst) $(srcdir)/schedule/vsnap-snapshot@.service.in >$@.tmp && mv $@.tmp $@
schedule/vsnap.cron: $(srcdir)/schedule/vsnap.cron.in Makefile
	$(AM_V_GEN)$(MKDIR_P) schedule && $(schedule_subst) $(srcdir)/schedule/vsnap.cron.in >$@.tmp && mv $@.tmp $@
# vsnap-autostart.service: at boot, `vsnap start-autostarted` (every domain
# marked with `vsnap autostart`); tests/scenarios/autostart.sh runs that
# command and checks the unit's ExecStart names it
systemdsystemunit_DATA += schedule/vsnap-autostart.service
CLEANFILES += schedule/vsnap-autostart.service
EXTRA_DIST += schedule/vsnap-autostart.service.in
schedule/vsnap-autostart.service: $(srcdir)/schedule/vsnap-autostart.service.in Makefile
	$(AM_V_GEN)$(MKDIR_P) schedule && $(schedule_subst) $(srcdir)/schedule/vsnap-autostart.service.in >$@.tmp && mv $@.tmp $@
