// sparkdl: one jar per Spark minor (org.sparkdl:sparkdl-spark4.2_2.13, ...), each with the Scala
// Spark ML package compiled against that Spark, the Rust cdylib inside it (the same for every
// Spark), and arrow-c-data bundled at that Spark's Arrow version (Spark ships arrow-vector/memory
// but not the C Data Interface). Spark itself is `provided`: the cluster supplies it.
// `publishM2` (make publish-local) publishes that jar, its POM, sources and scaladoc as Maven
// Central takes them (README, "Maven artifacts").
//
// The minors come from build/spark-versions.tsv. Each is an sbt project (spark40, spark41, ...)
// compiling the shared sources (scala/src/main) plus its own folder scala/src/main/spark-<minor>
// (the shims: the few calls whose Spark signatures differ between minors). The root project
// aggregates the default version only, so `build/sbt test` tests that one.
import scala.sys.process._

lazy val sparkTargets: Seq[SparkTarget] = SparkTargets.read(file("build/spark-versions.tsv"))
lazy val defaultTarget: SparkTarget = sparkTargets.find(_.isDefault).get

ThisBuild / organization := "org.sparkdl"
ThisBuild / version := "0.1.0-SNAPSHOT"
// The POM's <licenses>; LICENSE at the repository root, and the same in rust/Cargo.toml and
// python/pyproject.toml (python/tests/test_licenses.py checks all three).
ThisBuild / licenses := Seq("Apache-2.0" -> url("https://www.apache.org/licenses/LICENSE-2.0"))
ThisBuild / scalaVersion := defaultTarget.scala

// What Maven Central requires of a POM beyond the coordinate: name, description, url, licenses,
// scm and developers. The project has no public repository yet, so its URL is a placeholder
// (RFC 2606's example.org), the one place to change before a release goes to Central.
val projectUrl = "https://example.org/sparkdl"
ThisBuild / homepage := Some(url(projectUrl))
ThisBuild / scmInfo := Some(ScmInfo(url(projectUrl), s"scm:git:$projectUrl.git"))
ThisBuild / developers :=
  List(Developer("sparkdl", "The sparkdl maintainers", "sparkdl@example.org", url(projectUrl)))
ThisBuild / organizationName := "sparkdl"
ThisBuild / organizationHomepage := Some(url(projectUrl))

// Dependencies that go inside our jar (arrow-c-data): on the compile and test classpaths like
// `provided` ones, but in a configuration of their own so the POM does not list them.
lazy val Bundled = config("bundled").hide

lazy val nativeLib =
  taskKey[Seq[File]]("Builds the Rust cdylib (cargo build --release) and stages it as a jar resource")
lazy val buildInfo =
  taskKey[Seq[File]]("Writes org/sparkdl/build.properties: the Spark minor and Arrow version of this jar")
lazy val assemblyJar =
  taskKey[File]("The jar users add: target/sparkdl-spark<minor>_2.13.jar (also copied into the Python package)")
lazy val sparkWheelJars =
  taskKey[Seq[File]]("Spark's jars from a pyspark wheel (pyspark/jars/), for a Spark not on Maven Central")

// Spark 4 on Java 17 needs these module opens (the list Spark's launcher adds).
val javaModuleOpens = Seq(
  "-XX:+IgnoreUnrecognizedVMOptions",
  "--add-modules=jdk.incubator.vector",
  "--add-opens=java.base/java.lang=ALL-UNNAMED",
  "--add-opens=java.base/java.lang.invoke=ALL-UNNAMED",
  "--add-opens=java.base/java.lang.reflect=ALL-UNNAMED",
  "--add-opens=java.base/java.io=ALL-UNNAMED",
  "--add-opens=java.base/java.net=ALL-UNNAMED",
  "--add-opens=java.base/java.nio=ALL-UNNAMED",
  "--add-opens=java.base/java.util=ALL-UNNAMED",
  "--add-opens=java.base/java.util.concurrent=ALL-UNNAMED",
  "--add-opens=java.base/java.util.concurrent.atomic=ALL-UNNAMED",
  "--add-opens=java.base/jdk.internal.ref=ALL-UNNAMED",
  "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
  "--add-opens=java.base/sun.nio.cs=ALL-UNNAMED",
  "--add-opens=java.base/sun.security.action=ALL-UNNAMED",
  "--add-opens=java.base/sun.util.calendar=ALL-UNNAMED",
  "-Djdk.reflect.useDirectMethodHandle=false",
  "-Dio.netty.tryReflectionSetAccessible=true")

/** The sbt project of one Spark minor. */
def sparkdlProject(t: SparkTarget): Project =
  // Each project needs a base folder of its own (sbt keeps one project per folder); its
  // sources are all elsewhere, so the base only holds its build output.
  Project(t.id, file("target") / s"spark-${t.minor}")
    .settings(
      name := t.artifact,
      // The artifact id as written: sbt's default (normalizedName) would publish sparkdl-spark4-2.
      moduleName := t.artifact,
      description := s"sparkdl for Apache Spark ${t.minor}.x: deep learning in Spark ML (images in " +
        "DataFrames, TensorFlow and ONNX models, named pretrained networks, SQL functions), run by a " +
        s"native library inside the jar (Linux x86-64), with Apache Arrow's arrow-c-data ${t.arrow} bundled",
      scalaVersion := t.scala,
      // The Scala library is Spark's: `provided`, as Spark is (sbt would declare it a compile dependency).
      autoScalaLibrary := false,
      ivyConfigurations += Bundled,
      javacOptions ++= Seq("--release", "17"),
      scalacOptions ++= Seq("-release", "17", "-deprecation", "-feature", "-Wunused:imports"),
      sourceDirectory := (ThisBuild / baseDirectory).value / "scala" / "src",
      // The shared sources (sourceDirectory/main/scala) plus this minor's own folder.
      Compile / unmanagedSourceDirectories += sourceDirectory.value / "main" / s"spark-${t.minor}",
      // The Scala examples compile (and run, in ExamplesSuite) with the tests.
      Test / unmanagedSourceDirectories += (ThisBuild / baseDirectory).value / "examples" / "scala",
      libraryDependencies ++= {
        val spark =
          if (t.jars == "maven") Seq(
            "org.apache.spark" %% "spark-sql" % t.spark % Provided,
            "org.apache.spark" %% "spark-mllib" % t.spark % Provided)
          else Nil
        spark ++ Seq(
          "org.scala-lang" % "scala-library" % t.scala % Provided,
          // Bundled into our jar below rather than declared, so one jar on spark.jars is enough.
          ("org.apache.arrow" % "arrow-c-data" % t.arrow % Bundled).intransitive(),
          "org.scalatest" %% "scalatest" % "3.2.19" % Test)
      },
      sparkWheelJars := {
        if (t.jars != "wheel") Nil
        else {
          val root = (ThisBuild / baseDirectory).value
          val envName = s"SPARKDL_PYSPARK_JARS_${t.minor.replace('.', '_')}"
          val dir = sys.env.get(envName).map(file).getOrElse {
            val venv = root / s".venv-spark${t.minor}" / "lib"
            ((venv * "python*") / "site-packages" / "pyspark" / "jars").get.headOption
              .getOrElse(venv / "python3" / "site-packages" / "pyspark" / "jars")
          }
          val jars = (dir * "*.jar").get
          if (!jars.exists(_.getName == s"spark-sql_2.13-${t.spark}.jar")) sys.error(
            s"Spark ${t.spark} is not on Maven Central: its jars come from the pyspark==${t.spark} wheel, " +
              s"looked for in $dir (no spark-sql_2.13-${t.spark}.jar there). Run `make venv-spark${t.minor}` " +
              s"(pip install pyspark==${t.spark} into .venv-spark${t.minor}) or set $envName to a pyspark/jars folder.")
          // sbt supplies the Scala library of scalaVersion (the same Scala as this Spark's).
          jars.filterNot(_.getName.startsWith("scala-library-"))
        }
      },
      Compile / unmanagedJars ++= sparkWheelJars.value.map(Attributed.blank),
      Compile / unmanagedJars ++= update.value.select(configurationFilter(Bundled.name)).map(Attributed.blank),
      // A minor whose Spark comes from a wheel compiles against unmanaged jars, which the POM
      // cannot name: it declares that Spark `provided` all the same, as the other minors' POMs do.
      pomPostProcess := { pom =>
        if (t.jars != "wheel") pom
        else PomDependencies.add(pom,
          Seq("spark-sql", "spark-mllib").map { a =>
            PomDependency("org.apache.spark", s"${a}_${scalaBinaryVersion.value}", t.spark, "provided")
          })
      },
      nativeLib := {
        val log = streams.value.log
        val root = (ThisBuild / baseDirectory).value
        val profile = sys.env.getOrElse("SPARKDL_CARGO_PROFILE", "release")
        // The library links neither TensorFlow nor ONNX Runtime: both are loaded at run time.
        val cmd = Seq("cargo", "build", "--profile", profile, "-p", "sparkdl-native")
        log.info(s"building the native library: cargo build --profile $profile")
        if (Process(cmd, root).! != 0) sys.error("cargo build failed (see the output above)")
        val outDir = if (profile == "dev") "debug" else profile
        val so = root / "target" / outDir / "libsparkdl.so"
        val staged = (Compile / resourceManaged).value / "org" / "sparkdl" / "native" / "linux-x86_64" / "libsparkdl.so"
        IO.copyFile(so, staged)
        Seq(staged)
      },
      buildInfo := {
        val out = (Compile / resourceManaged).value / "org" / "sparkdl" / "build.properties"
        IO.write(
          out,
          s"""# Written by build.sbt: what this jar is built for (read by org.sparkdl.SparkVersion).
             |artifact=${t.artifact}_${scalaBinaryVersion.value}
             |version=${version.value}
             |spark.minor=${t.minor}
             |spark.compiled=${t.spark}
             |spark.supported=${sparkTargets.map(_.minor).mkString(",")}
             |arrow.version=${t.arrow}
             |""".stripMargin)
        Seq(out)
      },
      Compile / resourceGenerators ++= Seq(nativeLib.taskValue, buildInfo.taskValue),
      // Put arrow-c-data (classes and its own JNI library) inside our jar. Its LICENSE, NOTICE and
      // DEPENDENCIES move to META-INF/arrow-c-data/: META-INF/ has sparkdl's own (below).
      Compile / packageBin / mappings ++= {
        val cp = (Compile / dependencyClasspath).value.map(_.data)
        val cdata = cp.find(_.getName == s"arrow-c-data-${t.arrow}.jar")
          .getOrElse(sys.error(s"arrow-c-data-${t.arrow}.jar not on the classpath"))
        val dir = target.value / "bundled" / "arrow-c-data"
        IO.unzip(cdata, dir)
        val legal = "META-INF/((LICENSE|NOTICE|DEPENDENCIES)(\\.txt)?)".r
        Path.allSubpaths(dir).toSeq.filterNot { case (_, p) =>
          p.startsWith(
            "META-INF/") && (p.endsWith(".SF") || p.endsWith(".RSA") || p.endsWith(
            ".DSA") || p == "META-INF/MANIFEST.MF")
        }.map {
          case (f, legal(name, _*)) => f -> s"META-INF/arrow-c-data/$name"
          case other => other
        }
      },
      // sparkdl's license, its notices and what the jar bundles (THIRD-PARTY.md, which
      // python/tests/test_licenses.py checks against the jar); the sources and scaladoc jars
      // that are published beside it carry the license and notices too.
      Compile / packageBin / mappings ++= Seq("LICENSE", "NOTICE", "THIRD-PARTY.md").map { name =>
        (ThisBuild / baseDirectory).value / name -> s"META-INF/$name"
      },
      // The sources jar: the Scala and Java sources and resources as written, not the generated
      // ones (the native library, build.properties), which are built, not source.
      Compile / packageSrc / mappings := {
        val generated = (Compile / resourceManaged).value.toPath
        (Compile / packageSrc / mappings).value.filterNot { case (f, _) => f.toPath.startsWith(generated) } ++
          Seq("LICENSE", "NOTICE").map(name => (ThisBuild / baseDirectory).value / name -> s"META-INF/$name")
      },
      Compile / packageDoc / mappings ++= Seq("LICENSE", "NOTICE").map { name =>
        (ThisBuild / baseDirectory).value / name -> s"META-INF/$name"
      },
      assemblyJar := {
        val jar = (Compile / packageBin).value
        val root = (ThisBuild / baseDirectory).value
        val fileName = s"${t.artifact}_${scalaBinaryVersion.value}.jar"
        val out = root / "target" / fileName
        IO.copyFile(jar, out)
        IO.copyFile(jar, root / "python" / "sparkdl" / "jars" / fileName)
        out
      },
      Test / fork := true,
      // Tests run in the repository (as they did with one project), and find its files through sparkdl.repo.
      Test / baseDirectory := (ThisBuild / baseDirectory).value,
      // The tests' JVM finds Python packages (weights, test pictures) through the project's venv.
      Test / envVars ++= {
        val py = (ThisBuild / baseDirectory).value / ".venv" / "bin" / "python"
        if (py.exists && !sys.env.contains("PYSPARK_PYTHON")) Map("PYSPARK_PYTHON" -> py.getAbsolutePath)
        else Map.empty[String, String]
      },
      Test / parallelExecution := false,
      Test / javaOptions ++= javaModuleOpens ++ Seq(
        "-Xmx4g",
        "-Dspark.ui.enabled=false",
        s"-Dsparkdl.repo=${(ThisBuild / baseDirectory).value}"),
      Test / testOptions += Tests.Argument(TestFrameworks.ScalaTest, "-oD"),
      run / fork := true,
      run / javaOptions ++= javaModuleOpens)

def sparkTarget(minor: String): SparkTarget = sparkTargets.find(_.minor == minor)
  .getOrElse(sys.error(s"build.sbt defines a project for Spark $minor, which build/spark-versions.tsv does not list"))

// One line per row of build/spark-versions.tsv (sbt finds projects by their `lazy val`s).
lazy val spark40 = sparkdlProject(sparkTarget("4.0"))
lazy val spark41 = sparkdlProject(sparkTarget("4.1"))
lazy val spark42 = sparkdlProject(sparkTarget("4.2"))
lazy val spark43 = sparkdlProject(sparkTarget("4.3"))

// `build/sbt test`, `compile`, `assemblyJar` act on the default Spark; `build/sbt spark43/assemblyJar`
// on another one.
lazy val root = (project in file("."))
  .aggregate(LocalProject(defaultTarget.id))
  .settings(
    // A minor in build/spark-versions.tsv without its project above would silently not be built.
    Global / onLoad := (Global / onLoad).value.andThen { state =>
      val defined = Set(spark40, spark41, spark42, spark43).map(_.id)
      val missing = sparkTargets.map(_.id).filterNot(defined)
      if (missing.nonEmpty)
        sys.error(s"build/spark-versions.tsv lists ${missing.mkString(", ")}: add a project for each to build.sbt")
      state
    },
    name := "sparkdl-build",
    publish / skip := true,
    Compile / sources := Nil,
    Test / sources := Nil)
