// sparkdl: one jar with the Scala Spark ML package, the Rust cdylib inside it,
// and arrow-c-data bundled (Spark ships arrow-vector/memory but not the C Data
// Interface). Spark itself is `provided`: the cluster supplies it.
import scala.sys.process._

val sparkVersion = "4.1.0"
// Must equal the Arrow Java version of the Spark above (spark-parent's arrow.version).
val arrowVersion = "18.3.0"

ThisBuild / organization := "org.sparkdl"
ThisBuild / version := "0.1.0-SNAPSHOT"
ThisBuild / scalaVersion := "2.13.17"

lazy val nativeLib = taskKey[Seq[File]]("Builds the Rust cdylib (cargo build --release) and stages it as a jar resource")
lazy val assemblyJar = taskKey[File]("The jar users add: target/sparkdl-assembly.jar (also copied into the Python package)")

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
  "-Dio.netty.tryReflectionSetAccessible=true"
)

lazy val root = (project in file("."))
  .settings(
    name := "sparkdl",
    javacOptions ++= Seq("--release", "17"),
    scalacOptions ++= Seq("-release", "17", "-deprecation", "-feature", "-Wunused:imports"),
    Compile / scalaSource := baseDirectory.value / "scala" / "src" / "main" / "scala",
    Compile / javaSource := baseDirectory.value / "scala" / "src" / "main" / "java",
    Compile / resourceDirectory := baseDirectory.value / "scala" / "src" / "main" / "resources",
    Test / scalaSource := baseDirectory.value / "scala" / "src" / "test" / "scala",
    Test / javaSource := baseDirectory.value / "scala" / "src" / "test" / "java",
    // The Scala examples compile (and run, in ExamplesSuite) with the tests.
    Test / unmanagedSourceDirectories += baseDirectory.value / "examples" / "scala",
    Test / resourceDirectory := baseDirectory.value / "scala" / "src" / "test" / "resources",
    libraryDependencies ++= Seq(
      "org.apache.spark" %% "spark-sql" % sparkVersion % Provided,
      "org.apache.spark" %% "spark-mllib" % sparkVersion % Provided,
      // Bundled into our jar below rather than declared, so one jar on spark.jars is enough.
      ("org.apache.arrow" % "arrow-c-data" % arrowVersion % Provided).intransitive(),
      "org.scalatest" %% "scalatest" % "3.2.19" % Test
    ),
    nativeLib := {
      val log = streams.value.log
      val root = baseDirectory.value
      val profile = sys.env.getOrElse("SPARKDL_CARGO_PROFILE", "release")
      val cmd = Seq("bash", "-c",
        s"source build/tf-env.sh && cargo build --profile $profile -p sparkdl-native")
      log.info(s"building the native library: cargo build --profile $profile")
      if (Process(cmd, root).! != 0) sys.error("cargo build failed (see the output above)")
      val outDir = if (profile == "dev") "debug" else profile
      val so = root / "target" / outDir / "libsparkdl.so"
      val staged = (Compile / resourceManaged).value / "org" / "sparkdl" / "native" / "linux-x86_64" / "libsparkdl.so"
      IO.copyFile(so, staged)
      Seq(staged)
    },
    Compile / resourceGenerators += nativeLib.taskValue,
    // Put arrow-c-data (classes and its own JNI library) inside our jar.
    Compile / packageBin / mappings ++= {
      val cp = (Compile / dependencyClasspath).value.map(_.data)
      val cdata = cp.find(_.getName == s"arrow-c-data-$arrowVersion.jar")
        .getOrElse(sys.error(s"arrow-c-data-$arrowVersion.jar not on the classpath"))
      val dir = target.value / "bundled" / "arrow-c-data"
      IO.unzip(cdata, dir)
      Path.allSubpaths(dir).toSeq.filterNot { case (_, p) =>
        p.startsWith("META-INF/") && (p.endsWith(".SF") || p.endsWith(".RSA") || p.endsWith(".DSA") || p == "META-INF/MANIFEST.MF")
      }
    },
    assemblyJar := {
      val jar = (Compile / packageBin).value
      val out = baseDirectory.value / "target" / "sparkdl-assembly.jar"
      IO.copyFile(jar, out)
      IO.copyFile(jar, baseDirectory.value / "python" / "sparkdl" / "jars" / "sparkdl-assembly.jar")
      out
    },
    Test / fork := true,
    // The tests' JVM finds Python packages (weights, test pictures) through the project's venv.
    Test / envVars ++= {
      val py = baseDirectory.value / ".venv" / "bin" / "python"
      if (py.exists && !sys.env.contains("PYSPARK_PYTHON")) Map("PYSPARK_PYTHON" -> py.getAbsolutePath) else Map.empty[String, String]
    },
    Test / parallelExecution := false,
    Test / javaOptions ++= javaModuleOpens ++ Seq("-Xmx4g", "-Dspark.ui.enabled=false"),
    Test / testOptions += Tests.Argument(TestFrameworks.ScalaTest, "-oD"),
    run / fork := true,
    run / javaOptions ++= javaModuleOpens
  )
