<?php
// Tests of php-prepare.php, php-pin.php and php-check.php, run by php
// (shared/kinds' TestStepPrograms). Each failure prints its name; any failure exits 1.
$steps = dirname(__DIR__);
$failed = 0;

function expect($name, $ok)
{
    global $failed;
    if (!$ok) {
        fwrite(STDERR, "FAIL: $name\n");
        $failed++;
    }
}

function run($program, $file, $env)
{
    $cmd = escapeshellarg(PHP_BINARY) . " " . escapeshellarg($program) . " " . escapeshellarg($file) . " 2>&1";
    $out = [];
    $code = 0;
    $old = [];
    foreach ($env as $k => $v) {
        $old[$k] = getenv($k);
        putenv("$k=$v");
    }
    exec($cmd, $out, $code);
    foreach ($old as $k => $v) {
        putenv($v === false ? $k : "$k=$v");
    }
    return [$code, implode("\n", $out)];
}

$dir = sys_get_temp_dir() . "/php-steps-" . getmypid();
mkdir("$dir/home", 0777, true);
$sent = "$dir/composer.json";
file_put_contents($sent, json_encode([
    "require" => ["php" => ">=8.1", "ext-json" => "*", "monolog/monolog" => "3.5.0"],
    "repositories" => [["type" => "composer", "url" => "https://packages.example.com"]],
    "config" => ["secure-http" => false],
]));

// prepare: the file's repositories first, config merged; nothing without COMPOSER_HOME.
file_put_contents("$dir/home/composer.json", json_encode([
    "repositories" => [["type" => "vcs", "url" => "https://git.example.com/x"]],
    "config" => ["secure-http" => true, "process-timeout" => 10],
]));
[$code, $out] = run("$steps/php-prepare.php", $sent, ["COMPOSER_HOME" => "$dir/home"]);
expect("prepare succeeds: $out", $code === 0);
$merged = json_decode(file_get_contents("$dir/home/composer.json"), true);
expect("prepare puts the file's repository first", $merged["repositories"][0]["url"] === "https://packages.example.com");
expect("prepare keeps the home's repository", $merged["repositories"][1]["url"] === "https://git.example.com/x");
expect("prepare lets the file's config win", $merged["config"]["secure-http"] === false && $merged["config"]["process-timeout"] === 10);
[$code, $out] = run("$steps/php-prepare.php", $sent, ["COMPOSER_HOME" => "$dir/new-home"]);
expect("prepare makes COMPOSER_HOME: $out", $code === 0 && is_file("$dir/new-home/composer.json"));
file_put_contents("$dir/bad.json", "{not json");
[$code, $out] = run("$steps/php-prepare.php", "$dir/bad.json", ["COMPOSER_HOME" => "$dir/home"]);
expect("prepare refuses a file that is not JSON", $code === 1 && strpos($out, "composer.json is not valid JSON") !== false);

// check: platform requirements aside, each package must be in the vendor folder.
[$code, $out] = run("$steps/php-check.php", $sent, ["COMPOSER_HOME" => "$dir/home"]);
expect("check names the missing package", $code === 1 && strpos($out, "did not install monolog/monolog") !== false && strpos($out, "ext-json") === false);
mkdir("$dir/home/vendor/monolog/monolog", 0777, true);
[$code, $out] = run("$steps/php-check.php", $sent, ["COMPOSER_HOME" => "$dir/home"]);
expect("check passes once installed: $out", $code === 0);

// check: an exact pin must be the version installed (composer's installed.json).
mkdir("$dir/home/vendor/composer", 0777, true);
$installed = function ($version) use ($dir) {
    file_put_contents("$dir/home/vendor/composer/installed.json", json_encode(["packages" => [["name" => "monolog/monolog", "version" => $version]]]));
};
$installed("3.6.0");
[$code, $out] = run("$steps/php-check.php", $sent, ["COMPOSER_HOME" => "$dir/home"]);
expect("check names a version other than the pin: $out", $code === 1 && strpos($out, "monolog/monolog is 3.6.0, not 3.5.0 as composer.json pins it") !== false);
$installed("v3.5.0");
[$code, $out] = run("$steps/php-check.php", $sent, ["COMPOSER_HOME" => "$dir/home"]);
expect("check passes the pinned version: $out", $code === 0);

// pin: each entry required with its constraint, platform entries too, by
// the composer on PATH (here one that records its arguments).
mkdir("$dir/bin");
file_put_contents("$dir/bin/composer", "#!/bin/sh\nfor a in \"\$@\"; do echo \"\$a\"; done > $dir/args\nexit \${FAKE_EXIT:-0}\n");
chmod("$dir/bin/composer", 0755);
$path = "$dir/bin:" . getenv("PATH");
[$code, $out] = run("$steps/php-pin.php", $sent, ["PATH" => $path]);
$args = is_file("$dir/args") ? file("$dir/args", FILE_IGNORE_NEW_LINES) : [];
expect("pin succeeds: $out", $code === 0);
expect("pin requires each entry with its constraint: " . implode(" ", $args),
    array_slice($args, 0, 2) === ["global", "require"] && array_slice($args, -3) === ["php:>=8.1", "ext-json:*", "monolog/monolog:3.5.0"]);
[$code, $out] = run("$steps/php-pin.php", $sent, ["PATH" => $path, "FAKE_EXIT" => "2"]);
expect("pin fails with composer, naming what it asked: $out", $code === 1 && strpos($out, "composer could not require php:>=8.1") !== false);

// pin: a name that is no package's reaches no composer.
@unlink("$dir/args");
file_put_contents("$dir/evil.json", json_encode(["require" => ["--repository=https://evil.example" => "*", "monolog/monolog" => "3.5.0"]]));
[$code, $out] = run("$steps/php-pin.php", "$dir/evil.json", ["PATH" => $path]);
expect("pin refuses an option for a name: $out", $code === 1 && strpos($out, "not composer package names") !== false && !is_file("$dir/args"));

exec("rm -rf " . escapeshellarg($dir));
exit($failed > 0 ? 1 : 0);
