// scalafmt for `make lint` (scalafmtCheckAll) and `build/sbt scalafmtAll`; config in .scalafmt.conf.
addSbtPlugin("org.scalameta" % "sbt-scalafmt" % "2.5.6")
