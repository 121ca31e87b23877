build-fuzz/obj/model/extract_entry.o: model/extract_entry.c \
  model/extract.h common/err.h

model/extract.h:

common/err.h:
