"""The citizens' pages' texts (issue 17): Bokmål first, plain and short, and English.
Merged into texts.TEXTS; kept apart so that the staff desk's texts and these change
without touching each other."""

from __future__ import annotations

PUBLIC: dict[str, tuple[str, str]] = {
    # the frame
    "pnav.hub": ("Forsiden", "Home"),
    "pnav.activities": ("Kurs og møter", "Courses and meetings"),
    "pnav.cafe": ("Café Jasmin", "Café Jasmin"),
    "pnav.borrow": ("Låne", "Borrow"),
    "pnav.clubs": ("Lag og foreninger", "Clubs"),
    "foot.a11y": ("Tilgjengelighetserklæring", "Accessibility statement"),
    "foot.privacy": ("Personvernerklæring", "Privacy notice"),
    "privacy.note": (
        "Vi bruker det du skriver her bare til å svare deg om dette.",
        "We use what you write here only to answer you about this.",
    ),
    "privacy.link": ("Les personvernerklæringen", "Read the privacy notice"),
    "weekday.0": ("Mandag", "Monday"),
    "weekday.1": ("Tirsdag", "Tuesday"),
    "weekday.2": ("Onsdag", "Wednesday"),
    "weekday.3": ("Torsdag", "Thursday"),
    "weekday.4": ("Fredag", "Friday"),
    "weekday.5": ("Lørdag", "Saturday"),
    "weekday.6": ("Søndag", "Sunday"),
    "weekday.short.0": ("man", "Mon"),
    "weekday.short.1": ("tir", "Tue"),
    "weekday.short.2": ("ons", "Wed"),
    "weekday.short.3": ("tor", "Thu"),
    "weekday.short.4": ("fre", "Fri"),
    "weekday.short.5": ("lør", "Sat"),
    "weekday.short.6": ("søn", "Sun"),
    # forms
    "form.name": ("Navn", "Name"),
    "form.email": ("E-post", "Email"),
    "form.email.optional": ("E-post (valgfritt)", "Email (optional)"),
    "form.phone": ("Mobilnummer", "Mobile number"),
    "form.contact.hint": (
        "Skriv e-post eller mobilnummer, så vi kan nå deg.",
        "Give an email or a mobile number, so we can reach you.",
    ),
    "form.required.name": ("Skriv navnet ditt.", "Write your name."),
    "form.required.phone": ("Skriv mobilnummeret ditt.", "Write your mobile number."),
    "form.required.contact": (
        "Skriv e-post eller mobilnummer.",
        "Write an email or a mobile number.",
    ),
    # the hub
    "hub.title": ("Velkommen", "Welcome"),
    "hub.lead": (
        "Knutepunkt Strømsø er et møtested for alle. Her kan du låne møterom og PC, "
        "gå på kurs og møter, dyrke grønnsaker i Strømsøhagen og spise i Café Jasmin. "
        "Det er gratis å komme innom.",
        "Knutepunkt Strømsø is a meeting place for everyone. Here you can borrow a meeting "
        "room or a PC, go to courses and meetings, grow vegetables in Strømsøhagen and eat "
        "at Café Jasmin. Everyone is welcome to drop in.",
    ),
    "hub.today": ("I dag, {day}", "Today, {day}"),
    "hub.find": ("Finn oss", "Find us"),
    "hub.cafe.where": (
        "Café Jasmin er i 1. etasje i A-bygget.",
        "Café Jasmin is on the 1st floor of the A building.",
    ),
    "hub.contact": ("Spørsmål? Skriv til", "Questions? Write to"),
    "hub.contact.desk": (
        "Spørsmål? Spør oss i skranken i åpningstiden.",
        "Questions? Ask us at the desk during opening hours.",
    ),
    "hub.week": ("Åpningstider uken fra {day}", "Opening hours, the week from {day}"),
    "hub.week.caption": (
        "Åpningstider for Knutepunkt og Café Jasmin",
        "Opening hours of Knutepunkt and Café Jasmin",
    ),
    "hub.week.previous": ("Forrige uke", "Previous week"),
    "hub.week.this": ("Denne uken", "This week"),
    "hub.week.next": ("Neste uke", "Next week"),
    "hub.do": ("Dette kan du gjøre her", "What you can do here"),
    "hub.do.activities": ("Kurs og informasjonsmøter", "Courses and information meetings"),
    "hub.do.activities.hint": (
        "Se hva som skjer, og meld deg på. Nærutvalget møtes her fire ganger i året.",
        "See what is on, and sign up. The Nærutvalg meets here four times a year.",
    ),
    "hub.do.cafe": ("Café Jasmin", "Café Jasmin"),
    "hub.do.cafe.hint": (
        "Se menyen, bestill take-away eller servering til et møte.",
        "See the menu, order take-away or catering for a meeting.",
    ),
    "hub.do.borrow": ("Låne PC eller pallekarm", "Borrow a PC or a planter box"),
    "hub.do.borrow.hint": (
        "Lån PC i skranken, eller en pallekarm i Strømsøhagen i sesongen.",
        "Borrow a PC at the desk, or a planter box in Strømsøhagen in the season.",
    ),
    "hub.do.clubs": ("Lag og foreninger", "Clubs and associations"),
    "hub.do.clubs.hint": (
        "Finn lag og foreninger som bruker huset.",
        "Find the clubs and associations that use the hub.",
    ),
    "hub.do.rooms": ("Møterom og Gymsalen", "Meeting rooms and Gymsalen"),
    "hub.do.rooms.hint": (
        "Lag og foreninger låner møterommene gratis. Gymsalen passer til trening, "
        "konserter og selskap.",
        "Clubs and associations borrow the meeting rooms free of charge. Gymsalen suits "
        "training, concerts and parties.",
    ),
    "hub.do.books": ("Bokbytte", "Book swap"),
    "hub.do.books.hint": ("Ta med en bok, ta en bok.", "Bring a book, take a book."),
    "hours.day": ("Dag", "Day"),
    "hours.hub": ("Knutepunkt", "Knutepunkt"),
    "hours.cafe": ("Café Jasmin", "Café Jasmin"),
    "hours.today": ("i dag", "today"),
    "hours.closed": ("Stengt", "Closed"),
    "hours.holiday": ("{name} (helligdag)", "{name} (public holiday)"),
    "hours.staff": ("stengt av de ansatte", "closed by the staff"),
    "hours.partly": ("Delvis stengt: {reason}", "Partly closed: {reason}"),
    # activities
    "activities.title": ("Kurs og møter", "Courses and meetings"),
    "activities.lead": (
        "Kurs, informasjonsmøter og møter i Nærutvalget. Alle kan komme. Noen krever påmelding.",
        "Courses, information meetings and meetings of the Nærutvalg. Everyone can come. "
        "Some need a sign-up.",
    ),
    "activities.to.month": ("Vis som kalender", "Show as a calendar"),
    "activities.to.list": ("Vis som liste", "Show as a list"),
    "activities.none": ("Ingen kurs eller møter er lagt ut ennå.", "No courses or meetings yet."),
    "activities.by": ("Arrangør: {who}", "Organiser: {who}"),
    "activities.nosignup": ("Ingen påmelding. Bare kom.", "No sign-up. Just come."),
    "activities.left": ("{left} av {capacity} plasser ledige", "{left} of {capacity} places left"),
    "activities.full": ("Fullt.", "Full."),
    "activities.full.wait": (
        "Du kan melde deg på venteliste.",
        "You can join the waiting list.",
    ),
    "activities.month.title": ("Kalender for kurs og møter", "Calendar of courses and meetings"),
    "activities.month.heading": ("Kurs og møter i {month}", "Courses and meetings in {month}"),
    "activities.month.previous": ("Forrige måned", "Previous month"),
    "activities.month.next": ("Neste måned", "Next month"),
    "activities.month.none": (
        "Ingen kurs eller møter denne måneden.",
        "No courses or meetings this month.",
    ),
    "activities.one.title": ("Kurs eller møte", "Course or meeting"),
    "activities.back": ("Alle kurs og møter", "All courses and meetings"),
    "activities.what": ("Hva", "What"),
    "activities.when": ("Når", "When"),
    "activities.where": ("Hvor", "Where"),
    "activities.organiser": ("Arrangør", "Organiser"),
    "activities.places": ("Plasser", "Places"),
    "activities.gone.title": ("Finner ikke dette", "Not found"),
    "activities.gone.body": (
        "Kurset eller møtet er over, avlyst eller finnes ikke.",
        "The course or meeting is over, cancelled or does not exist.",
    ),
    "signup.heading": ("Meld deg på", "Sign up"),
    "signup.full": (
        "Det er fullt. Meld deg på, så står du på venteliste. Får du plass, sier vi fra.",
        "It is full. Sign up and you are on the waiting list. We tell you if you get a place.",
    ),
    "signup.submit": ("Meld meg på", "Sign me up"),
    "signup.submit.wait": ("Sett meg på venteliste", "Put me on the waiting list"),
    "signup.done.title": ("Du er påmeldt", "You are signed up"),
    "signup.done.body": ("Du har fått plass.", "You have a place."),
    "signup.wait.title": ("Du står på venteliste", "You are on the waiting list"),
    "signup.wait.body": (
        "Det var fullt. Du er nummer {position} på ventelisten. Får du plass, sier vi fra.",
        "It was full. You are number {position} on the waiting list. We tell you if you get "
        "a place.",
    ),
    "signup.wait.body.noplace": (
        "Det var fullt. Får du plass, sier vi fra.",
        "It was full. We tell you if you get a place.",
    ),
    "signup.message": (
        "Du får en bekreftelse på e-post eller SMS, med en lenke der du kan melde deg av.",
        "You get a confirmation by email or SMS, with a link where you can cancel.",
    ),
    # the café
    "cafe.public.title": ("Café Jasmin", "Café Jasmin"),
    "cafe.lead": (
        "Café Jasmin drives av Jasmin kvinnenettverk. Her får du kaffe, lunsj og bakst. "
        "Du kan bestille take-away eller servering til møter.",
        "Café Jasmin is run by Jasmin kvinnenettverk. Coffee, lunch and baking. You can "
        "order take-away or catering for meetings.",
    ),
    "cafe.hours": ("Åpent {hours}.", "Open {hours}."),
    "cafe.hours.closed": ("Stengt på helligdager.", "Closed on public holidays."),
    "cafe.hours.week": ("Se ukens åpningstider", "See this week's opening hours"),
    "cafe.order.takeaway": ("Bestill take-away", "Order take-away"),
    "cafe.order.catering": ("Bestill servering", "Order catering"),
    "cafe.menu": ("Meny", "Menu"),
    "cafe.menu.none": ("Menyen er tom akkurat nå.", "The menu is empty right now."),
    "cafe.allergens": ("Allergener:", "Allergens:"),
    "cafe.allergens.none": ("ingen av de 14", "none of the 14"),
    "cafe.allergens.key": ("De 14 allergenene vi merker", "The 14 allergens we mark"),
    "cafe.allergens.lead": (
        "Hver rett viser hvilke av disse den inneholder. Spør oss hvis du er usikker.",
        "Every dish shows which of these it contains. Ask us if you are unsure.",
    ),
    "unit.per_person": ("per person", "per person"),
    "unit.piece": ("per stk.", "each"),
    "unit.platter": ("per fat", "per platter"),
    "kind.takeaway": ("Take-away", "Take-away"),
    "kind.catering": ("Servering", "Catering"),
    "diet.vegetarian": ("Vegetar", "Vegetarian"),
    "diet.vegan": ("Vegansk", "Vegan"),
    "diet.halal": ("Halal", "Halal"),
    "category.drikke": ("Drikke", "Drinks"),
    "category.lunsj": ("Lunsj", "Lunch"),
    "category.frukt": ("Frukt", "Fruit"),
    "category.bakst": ("Bakst", "Baking"),
    "category.smårett": ("Småretter", "Small dishes"),
    "order.title": ("Bestill fra Café Jasmin", "Order from Café Jasmin"),
    "order.back": ("Til menyen", "To the menu"),
    "order.heading.takeaway": ("Bestill take-away", "Order take-away"),
    "order.heading.catering": ("Bestill servering", "Order catering"),
    "order.lead.takeaway": (
        "Velg hva du vil ha og når du henter. Du henter i kafeen mens den er åpen.",
        "Choose what you want and when you pick it up, while the café is open.",
    ),
    "order.lead.catering": (
        "Servering til et møte eller en samling. Bestill helst to virkedager før. "
        "Bestiller du senere, sendes det som en kort-varsel-bestilling, og kafeen må "
        "godta den før den gjelder.",
        "Catering for a meeting or a gathering. Order two working days ahead if you can. "
        "A later order is sent as short notice, and the café must accept it first.",
    ),
    "order.switch.catering": ("Vil du heller bestille servering?", "Rather order catering?"),
    "order.switch.takeaway": ("Vil du heller bestille take-away?", "Rather order take-away?"),
    "order.deadlines": ("Frister for servering", "Deadlines for catering"),
    "order.deadlines.lead": (
        "Bestill før fristen, ellers må kafeen godta bestillingen først.",
        "Order before the deadline, or the café must accept the order first.",
    ),
    "order.deadline": ("{day}: bestill før {by}", "{day}: order before {by}"),
    "order.items": ("Hva vil du bestille?", "What would you like?"),
    "order.pickup": ("Henting", "Pick-up"),
    "order.pickup.hint": (
        "Kafeen er åpen {hours}, ikke på helligdager.",
        "The café is open {hours}, not on public holidays.",
    ),
    "order.date": ("Dato", "Date"),
    "order.time": ("Klokkeslett", "Time"),
    "order.people": ("Antall personer", "Number of people"),
    "order.you": ("Om deg", "About you"),
    "order.note": ("Beskjed til kafeen (valgfritt)", "Message to the café (optional)"),
    "order.submit": ("Send bestillingen", "Send the order"),
    "order.quantity.invalid": (
        "Antall må være et helt tall.",
        "A quantity must be a whole number.",
    ),
    "order.lines.required": ("Velg minst én ting.", "Choose at least one thing."),
    "order.date.required": ("Velg en dato.", "Choose a date."),
    "order.time.required": ("Velg et klokkeslett.", "Choose a time."),
    "order.people.required": ("Skriv hvor mange dere blir.", "Write how many you will be."),
    "order.next_day": ("Neste dag med plass: {day}.", "The next day with room: {day}."),
    "order.done.title": ("Takk for bestillingen", "Thank you for your order"),
    "order.done.short": ("Bestillingen venter på kafeen", "The order waits for the café"),
    "order.done.body": ("Kafeen har fått bestillingen.", "The café has your order."),
    "order.short.label": ("Kort varsel.", "Short notice."),
    "order.short.body": (
        "Bestillingen kom senere enn to virkedager før. Kafeen må godta den før den "
        "gjelder. Du får svar på e-post eller SMS.",
        "The order came later than two working days ahead. The café must accept it "
        "before it stands. You get an answer by email or SMS.",
    ),
    "order.kind": ("Type", "Kind"),
    "order.status": ("Status", "Status"),
    "order.total": ("Å betale", "To pay"),
    "order.status.pending_acceptance": ("Venter på svar fra kafeen", "Waiting for the café"),
    "order.status.placed": ("Mottatt", "Received"),
    "order.status.accepted": ("Bekreftet", "Confirmed"),
    "order.status.rejected": ("Avslått", "Rejected"),
    "order.status.ready": ("Klar til henting", "Ready for pick-up"),
    "order.status.picked_up": ("Hentet", "Picked up"),
    "order.status.cancelled": ("Avbestilt", "Cancelled"),
    "order.message": (
        "Du får en bekreftelse på e-post eller SMS, med en lenke der du kan se og avbestille.",
        "You get a confirmation by email or SMS, with a link where you can see and cancel.",
    ),
    "order.where": (
        "Hent i Café Jasmin, 1. etasje i A-bygget, Telthusgata 8.",
        "Pick up at Café Jasmin, 1st floor of the A building, Telthusgata 8.",
    ),
    # clubs
    "clubs.title": ("Lag og foreninger", "Clubs and associations"),
    "clubs.lead": (
        "Lag og foreninger som bruker Knutepunkt, og som vil stå her.",
        "Clubs and associations that use Knutepunkt and want to be listed here.",
    ),
    "clubs.none": ("Ingen lag eller foreninger står her ennå.", "No clubs are listed yet."),
    "clubs.number": ("Organisasjonsnummer", "Organisation number"),
    "clubs.website": ("Nettside", "Website"),
    "clubs.how": (
        "Vil laget ditt stå her? Kryss av for det når dere booker et rom.",
        "Want your club listed? Tick the box when you book a room.",
    ),
    # borrowing
    "borrow.title": ("Låne", "Borrow"),
    "borrow.lead": ("Det er gratis å låne.", "Borrowing is free."),
    "borrow.pc": ("PC", "PC"),
    "borrow.pc.what": (
        "Lån en PC i skranken på Innbyggertorget, for eksempel for å sende en søknad. "
        "Skranken er åpen mandag–fredag 10–14.",
        "Borrow a PC at the citizens' desk, for example to send an application. The desk is "
        "open Monday–Friday 10–14.",
    ),
    "borrow.planter_box": ("Pallekarm i Strømsøhagen", "Planter box in Strømsøhagen"),
    "borrow.planter_box.what": (
        "Dyrk grønnsaker og urter i en pallekarm. Du låner den for sesongen, til 30. september.",
        "Grow vegetables and herbs in a planter box. You borrow it for the season, to "
        "30 September.",
    ),
    "borrow.free": ("{free} av {total} ledige nå", "{free} of {total} free now"),
    "borrow.reserve": ("Reserver en pallekarm", "Reserve a planter box"),
    "borrow.reserve.lead": (
        "Er en ledig, holder vi den til deg noen dager. Er alle utlånt, står du på "
        "venteliste, og vi sier fra når det er din tur.",
        "If one is free, we hold it for you for a few days. If all are lent, you are on the "
        "waiting list, and we tell you when it is your turn.",
    ),
    "borrow.phone.hint": (
        "Vi sender SMS når pallekarmen er klar.",
        "We send an SMS when the planter box is ready.",
    ),
    "borrow.reserve.submit": ("Reserver", "Reserve"),
    "borrow.books": (
        "Bokbytte: ta med en bok, ta en bok. Hylla står ved Innbyggertorget.",
        "Book swap: bring a book, take a book. The shelf is by the citizens' desk.",
    ),
    "borrow.done.title": ("Reservasjonen er mottatt", "The reservation is received"),
    "borrow.done.offered": (
        "En pallekarm er klar til deg. Hent den innen {until}.",
        "A planter box is ready for you. Pick it up by {until}.",
    ),
    "borrow.done.waiting": (
        "Alle pallekarmene er utlånt. Du står på venteliste, og vi sier fra når det er din tur.",
        "All planter boxes are lent. You are on the waiting list, and we tell you when it is "
        "your turn.",
    ),
    "borrow.done.message": (
        "Du får beskjed på SMS eller e-post.",
        "You are told by SMS or email.",
    ),
    "borrow.back": ("Tilbake til Låne", "Back to Borrow"),
    "borrow.done.keep": (
        "Ta vare på denne lenken. Der ser du reservasjonen, og der kan du avbestille den:",
        "Keep this link. There you see the reservation, and there you can cancel it:",
    ),
    # a borrower's own page, from the link above
    "manage.loans.title": ("Dine lån og reservasjoner", "Your loans and reservations"),
    "manage.loans.reservations": ("Reservasjoner", "Reservations"),
    "manage.loans.reservations.none": (
        "Du har ingen åpne reservasjoner.",
        "You have no open reservations.",
    ),
    "manage.loans.kind.planter_box": ("Pallekarm i Strømsøhagen", "Planter box in Strømsøhagen"),
    "manage.loans.kind.pc": ("PC", "PC"),
    "manage.loans.kind.book": ("Bok", "Book"),
    "manage.loans.kind.other": ("Annet utstyr", "Other equipment"),
    "manage.loans.waiting": (
        "Du står på venteliste. Vi sier fra når det er din tur.",
        "You are on the waiting list. We tell you when it is your turn.",
    ),
    "manage.loans.offered": (
        "Klar til deg. Hent den innen {until}.",
        "Ready for you. Pick it up by {until}.",
    ),
    "manage.loans.cancel": ("Avbestill reservasjonen", "Cancel the reservation"),
    "manage.loans.cancelled": ("Reservasjonen er avbestilt.", "The reservation is cancelled."),
    "manage.loans.loans": ("Lån", "Loans"),
    "manage.loans.loans.none": ("Du har ingen lån nå.", "You have no loans now."),
    "manage.loans.due": ("Leveres innen {when}.", "Return it by {when}."),
    "manage.loans.overdue": (
        "Fristen er passert. Lever så snart du kan.",
        "The date has passed. Please return it as soon as you can.",
    ),
    "manage.loans.renew": ("Forleng lånet", "Extend the loan"),
    "manage.loans.renewed": ("Lånet er forlenget til {when}.", "The loan is extended to {when}."),
    # a recipient's own choices, from the link at the foot of their emails
    "prefs.title": ("Varsler fra Knutepunkt", "Notifications from Knutepunkt"),
    "prefs.about": (
        "Her velger du hva vi sender til e-postadressen {recipient}.",
        "Here you choose what we send to the email address {recipient}.",
    ),
    "prefs.legend": ("Dette vil jeg få", "What I want to get"),
    "prefs.email": ("E-post", "Email"),
    "prefs.email.hint": (
        "Vi sender e-post om det du har booket, bestilt, lånt eller meldt deg på.",
        "We email you about what you booked, ordered, borrowed or signed up for.",
    ),
    "prefs.sms": ("SMS", "SMS"),
    "prefs.sms.hint": (
        "Vi sender SMS til mobilnummeret du ga oss sammen med denne e-postadressen.",
        "We text the mobile number you gave us with this email address.",
    ),
    "prefs.reminders": ("Påminnelser", "Reminders"),
    "prefs.reminders.hint": (
        "Vi minner deg på e-post og SMS før en booking, og før du må levere noe du har lånt.",
        "We remind you by email and SMS before a booking, and before something you borrowed "
        "is due.",
    ),
    "prefs.none": (
        "Tar du bort både e-post og SMS, kan vi ikke si fra hvis noe blir endret.",
        "If you untick both email and SMS, we cannot tell you if something changes.",
    ),
    "prefs.save": ("Lagre", "Save"),
    "prefs.saved": ("Valgene dine er lagret.", "Your choices are saved."),
    "prefs.updated": ("Sist endret {when}.", "Last changed {when}."),
    "prefs.one_click": (
        "Du får ikke flere e-poster fra Knutepunkt.",
        "You will get no more emails from Knutepunkt.",
    ),
    # accessibility statement
    "a11y.title": ("Tilgjengelighetserklæring", "Accessibility statement"),
    "a11y.lead": (
        "Drammen kommune vil at alle skal kunne bruke disse sidene. Her står hvordan vi "
        "jobber med det, og hva som ikke er på plass.",
        "Drammen municipality wants everyone to be able to use these pages. Here is how we "
        "work on it, and what is not in place.",
    ),
    "a11y.status.h": ("Status", "Status"),
    "a11y.status": (
        "Sidene skal følge WCAG 2.1 nivå AA, slik loven krever. Vi tester hver side "
        "automatisk med axe-core i en ekte nettleser, på PC og mobil.",
        "The pages aim to meet WCAG 2.1 level AA, as the law requires. We test every page "
        "automatically with axe-core in a real browser, on desktop and phone.",
    ),
    "a11y.how.h": ("Slik er sidene laget", "How the pages are made"),
    "a11y.how.1": (
        "Alt virker uten JavaScript og med bare tastatur.",
        "Everything works without JavaScript and with the keyboard only.",
    ),
    "a11y.how.2": (
        "Skjemafelt har ledetekst, og feil står ved feltet de gjelder.",
        "Form fields have labels, and errors are shown by the field they belong to.",
    ),
    "a11y.how.3": (
        "Sidene virker på en mobil som er 375 piksler bred.",
        "The pages work on a phone 375 pixels wide.",
    ),
    "a11y.how.4": (
        "Status vises med tekst, ikke bare med farge.",
        "Status is shown in text, not by colour alone.",
    ),
    "a11y.gaps.h": ("Det som ikke er på plass", "What is not in place"),
    "a11y.gaps": (
        "Automatiske tester finner ikke alt. Sidene er ennå ikke testet av personer som "
        "bruker skjermleser eller forstørrelse.",
        "Automatic tests do not find everything. The pages have not yet been tested by "
        "people who use a screen reader or magnification.",
    ),
    "a11y.contact.h": ("Si fra", "Tell us"),
    "a11y.contact": (
        "Får du ikke brukt noe på sidene? Skriv til oss:",
        "Is something on these pages not usable for you? Write to us:",
    ),
    "a11y.contact.desk": (
        "Får du ikke brukt noe på sidene? Si fra i skranken, så hjelper vi deg.",
        "Is something on these pages not usable for you? Tell us at the desk and we will help you.",
    ),
    "a11y.uu": (
        "Du kan også klage til Tilsynet for universell utforming av ikt.",
        "You can also complain to the Authority for Universal Design of ICT.",
    ),
    "a11y.uu.link": ("uutilsynet.no", "uutilsynet.no"),
    # privacy notice
    "privacy.title": ("Personvernerklæring", "Privacy notice"),
    "privacy.lead": (
        "Her står hvilke opplysninger om deg vi bruker når du melder deg på, bestiller, "
        "låner eller booker, og hvorfor.",
        "What we use about you when you sign up, order, borrow or book, and why.",
    ),
    "privacy.what.h": ("Hva vi lagrer", "What we keep"),
    "privacy.what": (
        "Navn, e-post og mobilnummer, og det du har bestilt, meldt deg på, lånt eller "
        "booket. Vi lagrer ikke fødselsnummer.",
        "Your name, email and mobile number, and what you ordered, signed up for, borrowed "
        "or booked. We do not keep national identity numbers.",
    ),
    "privacy.why.h": ("Hvorfor", "Why"),
    "privacy.why": (
        "For å gi deg det du har bedt om, og for å gi deg beskjed om det på e-post eller "
        "SMS. Vi bruker ikke opplysningene til noe annet, og vi deler dem ikke.",
        "To give you what you asked for, and to tell you about it by email or SMS. We use "
        "the details for nothing else, and we do not share them.",
    ),
    "privacy.who.h": ("Hvem ser det", "Who sees it"),
    "privacy.who": (
        "Bare de ansatte som trenger det: skranken, kafeen og de som behandler bookinger. "
        "Hver gang en ansatt ser opplysningene, blir det logget.",
        "Only the staff who need it: the desk, the café and the booking officers. Each time "
        "a member of staff reads the details, it is logged.",
    ),
    "privacy.long.h": ("Hvor lenge", "How long"),
    "privacy.long": (
        "Bare så lenge vi trenger dem til det du har bedt om. Så sletter vi navnet ditt og "
        "hvordan vi når deg:",
        "Only as long as we need them for what you asked for. Then we delete your name and "
        "how to reach you:",
    ),
    "privacy.long.booking": (
        "En booking: {days} dager etter at den er over.",
        "A booking: {days} days after it ends.",
    ),
    "privacy.long.registration": (
        "En påmelding: {days} dager etter kurset eller møtet.",
        "A sign-up: {days} days after the course or meeting.",
    ),
    "privacy.long.loan": (
        "Lån og reservasjoner: {days} dager etter at du leverte det siste du lånte.",
        "Loans and reservations: {days} days after you returned the last thing you borrowed.",
    ),
    "privacy.long.order": (
        "En bestilling fra kafeen: {days} dager etter at den ble hentet.",
        "An order from the café: {days} days after it was picked up.",
    ),
    "privacy.long.message": (
        "E-post og SMS vi har sendt deg: {days} dager etter at de ble sendt.",
        "Emails and text messages we sent you: {days} days after they were sent.",
    ),
    "privacy.long.season": (
        "En søknad om treningstid for et lag: {days} dager etter sesongens siste dag.",
        "A club's application for training time: {days} days after the season's last day.",
    ),
    "privacy.rights.h": ("Dine rettigheter", "Your rights"),
    "privacy.rights": (
        "Du kan be om å få se, rette eller slette opplysningene om deg. Skriv til:",
        "You can ask to see, correct or delete the details about you. Write to:",
    ),
    "privacy.rights.desk": (
        "Du kan be om å få se, rette eller slette opplysningene om deg. Spør i skranken.",
        "You can ask to see, correct or delete the details about you. Ask at the desk.",
    ),
    "privacy.complain": (
        "Du kan også klage til Datatilsynet.",
        "You can also complain to the Norwegian Data Protection Authority.",
    ),
    "privacy.complain.link": ("datatilsynet.no", "datatilsynet.no"),
    "privacy.cookies.h": ("Informasjonskapsler", "Cookies"),
    "privacy.cookies": (
        "Vi bruker bare to: én som husker språket du valgte, og én som beskytter skjemaene "
        "mot misbruk. Ingen sporing og ingen statistikk.",
        "We use only two: one that remembers the language you chose, and one that protects "
        "the forms from misuse. No tracking and no statistics.",
    ),
}
