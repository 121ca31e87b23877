build-fuzz/obj/model/extract_trim.o: model/extract_trim.c model/extract.h \
  common/err.h common/buf.h

model/extract.h:

common/err.h:

common/buf.h:
