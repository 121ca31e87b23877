build-fuzz/obj/worker/loop_report.o: worker/loop_report.c \
  worker/loop_report.h common/err.h worker/loop_rules.h common/buf.h \
  common/json.h

worker/loop_report.h:

common/err.h:

worker/loop_rules.h:

common/buf.h:

common/json.h:
