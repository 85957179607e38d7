@echo off
rem start-high-performance.bat: runs iotstream on Windows through WSL2, in Debian.
rem   start-high-performance.bat [iotstream flags...]      e.g.  start-high-performance.bat --port 9004
rem Checks that wsl.exe exists; installs Debian in WSL if it is missing (then rerun this script once Debian's
rem first-run setup has made your Linux user); then runs ./start-high-performance.sh from this folder inside Debian:
rem it installs what is missing (sudo asks for your Linux password), builds, and runs the server in the foreground.
rem Ctrl-C reaches the server (it stops cleanly, writing what is queued); answer the "Terminate batch job" question
rem either way. Closing the window ends wsl.exe and WSL ends the server with it, without the clean stop.
setlocal EnableExtensions
set "DISTRO=Debian"

where wsl.exe >nul 2>nul
if errorlevel 1 (
  echo wsl.exe was not found: this needs WSL2 ^(Windows 10 version 2004 or later, or Windows 11^).
  echo Install it from an administrator prompt with:  wsl --install
  exit /b 1
)

wsl.exe -d %DISTRO% -e true >nul 2>nul
if errorlevel 1 (
  echo %DISTRO% is not installed in WSL: installing it ^(wsl --install -d %DISTRO%^).
  echo ^(The first WSL install needs an administrator prompt and may ask for a restart of Windows.^)
  wsl.exe --install -d %DISTRO%
  echo.
  echo When %DISTRO%'s first-run setup has finished ^(it asks for a Linux user name and password^),
  echo run %~nx0 again.
  exit /b 1
)

rem This folder as a Linux path ("." keeps the trailing backslash from quoting the closing quote). No %~dp0 inside
rem the ( ) blocks: a ")" in the path, as in "Program Files (x86)", would end the block.
set "REPO="
for /f "usebackq delims=" %%p in (`wsl.exe -d %DISTRO% -e wslpath -a "%~dp0."`) do set "REPO=%%p"
if not defined REPO (
  echo wslpath could not translate this folder into a path inside %DISTRO%.
  exit /b 1
)

rem The dashboard's port: --port N (or --port=N) among the arguments, else 9003.
set "PORT=9003"
:args
if "%~1"=="" goto run
if "%~1"=="--port" set "PORT=%~2"
shift
goto args

:run
echo iotstream: starting in WSL (%DISTRO%) from %REPO%
echo iotstream: dashboard http://localhost:%PORT%/   (Ctrl-C stops the server)
wsl.exe -d %DISTRO% --cd "%REPO%" -e bash ./start-high-performance.sh %*
exit /b %errorlevel%
